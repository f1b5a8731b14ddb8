using BenchmarkDotNet.Running;

// Pick suites and jobs on the command line, e.g. `dotnet run -c Release -- --filter '*Tokenizer*' --job short`.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
