using Specialized.Cli;
using Specialized.Models;

BuiltInModels.Register();
return SpecializedCommandLine.Run(args, CliConsole.FromProcess());
