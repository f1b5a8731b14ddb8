using System.CommandLine;
using Specialized.Cli.Commands;
using Specialized.Models;

BuiltInModels.Register();

var root = new RootCommand("specialized: Qwen2 inference, specialized at build time.")
{
    ModelsCommand.Create(),
    InspectCommand.Create(),
    TokenizeCommand.Create(),
    MakeRandomCheckpointCommand.Create(),
    GenerateCommand.Create(),
    ServeCommand.Create(),
};
return root.Parse(args).Invoke();
