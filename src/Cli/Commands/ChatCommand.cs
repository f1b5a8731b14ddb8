using System.CommandLine;
using System.Text;
using Specialized.Text;

namespace Specialized.Cli.Commands;

/// <summary>
/// <c>specialized chat --model DIR [--system TEXT] [--max-new-tokens N] [--temperature T] [--top-p P] [--seed S]</c>:
/// a conversation through Qwen2.5's chat template, each reply streamed as it is generated. Reads one user turn a line
/// from stdin (so it can be piped), until end of input or <c>/exit</c>; <c>/reset</c> starts the conversation over.
/// </summary>
internal static class ChatCommand
{
    public static Command Create(CliConsole console)
    {
        var engine = new EngineCommandOptions();
        var system = new Option<string>("--system") { Description = "System prompt. Default: Qwen2.5's." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens a reply has at most.", DefaultValueFactory = _ => 512 };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy.", DefaultValueFactory = _ => 0.7f };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling threshold.", DefaultValueFactory = _ => 0.8f };
        var seed = new Option<long?>("--seed") { Description = "Seed for sampling. Default: random." };

        var command = new Command("chat", "Chat with a model: one user turn a line on stdin, replies streamed; /reset starts over, /exit ends.")
        {
            system, maxNew, temperature, topP, seed,
        };
        engine.AddTo(command);
        command.SetAction(parse =>
        {
            var parameters = new SamplingParams
            {
                MaxNewTokens = parse.GetValue(maxNew),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
            };
            parameters.Validate(int.MaxValue);
            using LoadedEngine loaded = engine.Load(parse, console, parse.GetValue(seed));
            if (loaded.Engine.Tokenizer is null) throw new ArgumentException("chat needs tokenizer.json in the model folder.");
            return Converse(console, loaded.Engine, parse.GetValue(system), parameters);
        });
        return command;
    }

    private static int Converse(CliConsole console, Engine engine, string? system, SamplingParams parameters)
    {
        List<ChatMessage> Start() => system is null ? [] : [ChatMessage.System(system)];
        List<ChatMessage> conversation = Start();
        if (console.ErrorIsTerminal) console.Error.WriteLine("Type a message; /reset starts over, /exit ends.");
        while (true)
        {
            if (console.ErrorIsTerminal) console.Error.Write("> ");
            string? line = console.In.ReadLine();
            if (line is null || line.Trim() == "/exit") return 0;
            if (line.Trim() == "/reset")
            {
                conversation = Start();
                console.Error.WriteLine("(conversation reset)");
                continue;
            }
            if (string.IsNullOrWhiteSpace(line)) continue;

            conversation.Add(ChatMessage.User(line));
            var reply = new StringBuilder();
            FinishReason? finish = null;
            foreach (StreamChunk chunk in engine.GenerateStream(conversation, parameters))
            {
                console.Out.Write(chunk.TextDelta);
                console.Out.Flush();
                reply.Append(chunk.TextDelta);
                finish = chunk.MetaInfo.FinishReason ?? finish;
            }
            console.Out.WriteLine();
            if (finish?.Type == FinishType.Abort)
            {
                // The turn did not happen (the conversation outgrew the context, say): leave it out and say why.
                conversation.RemoveAt(conversation.Count - 1);
                console.Error.WriteLine($"error: the reply was aborted: {finish.Message}; /reset to start over.");
                continue;
            }
            conversation.Add(ChatMessage.Assistant(reply.ToString()));
        }
    }
}
