using System.CommandLine;
using Specialized.Models;

namespace Specialized.Cli.Commands;

/// <summary><c>specialized models</c>: the models this build specialized.</summary>
internal static class ModelsCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("models", "List the models specialized into this build.");
        command.SetAction(_ =>
        {
            foreach (ModelDescriptor model in ModelRegistry.Models.OrderBy(m => m.Name, StringComparer.Ordinal))
            {
                ModelSpec s = model.Spec;
                console.Out.WriteLine($"{model.Name,-24} {s.NumHiddenLayers,3} layers  hidden {s.HiddenSize,5}  " +
                    $"heads {s.NumAttentionHeads,2}/{s.NumKeyValueHeads}  vocab {s.VocabSize}  {s.ParameterCount,14:N0} parameters");
            }
            return 0;
        });
        return command;
    }
}
