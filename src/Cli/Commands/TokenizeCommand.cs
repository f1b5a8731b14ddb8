using System.CommandLine;
using Specialized.Text;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized tokenize --model DIR --text TEXT</c> prints the token ids as one JSON array;
/// <c>specialized tokenize --model DIR --decode 1,2,3</c> prints their text.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A checkpoint folder with tokenizer.json and tokenizer_config.json.",
            Required = true,
        };
        var text = new Option<string>("--text", "-t") { Description = "Text to encode; special tokens written in it (<|im_start|>) become their ids." };
        var decode = new Option<string>("--decode", "-d") { Description = "Comma-separated token ids to decode, e.g. 9707,11,1879." };
        var skipSpecial = new Option<bool>("--skip-special-tokens") { Description = "With --decode: leave special tokens such as <|im_end|> out of the text." };

        var command = new Command("tokenize", "Encode text to Qwen token ids, or decode ids to text.") { model, text, decode, skipSpecial };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(text) is null) == (result.GetResult(decode) is null))
            {
                result.AddError("Give exactly one of --text TEXT or --decode IDS.");
            }
        });
        command.SetAction(parse => Run(console, parse.GetValue(model)!, parse.GetValue(text), parse.GetValue(decode), parse.GetValue(skipSpecial)));
        return command;
    }

    private static int Run(CliConsole console, string folder, string? text, string? ids, bool skipSpecialTokens)
    {
        Qwen2Tokenizer tokenizer = Qwen2Tokenizer.Load(folder);
        if (text is not null)
        {
            console.Out.WriteLine($"[{string.Join(",", tokenizer.Encode(text))}]");
            return 0;
        }
        if (!TokenIds.TryParse(ids!, out int[] parsed, out string error)) throw new ArgumentException($"--decode: {error}");
        console.Out.WriteLine(tokenizer.Decode(parsed, skipSpecialTokens));
        return 0;
    }
}
