// An OpenAI-compatible server of your own on the engine: an ordinary ASP.NET Core app that maps the engine's
// endpoints (/v1/chat/completions, /v1/completions, /v1/models, SGLang's /generate, /health) beside its own.
//
//   dotnet run --project samples/CustomServer -c Release -- CHECKPOINT_DIR [--host 127.0.0.1] [--port 30000] [--device auto|cuda|cpu]
//
// Then any OpenAI client works against http://127.0.0.1:30000/v1, e.g.
//   curl http://127.0.0.1:30000/v1/chat/completions -H 'Content-Type: application/json' \
//     -d '{"model": "default", "messages": [{"role": "user", "content": "Hello!"}], "stream": true}'
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Specialized;
using Specialized.Server;

string? checkpoint = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal) && !IsOptionValue(a));
if (checkpoint is null)
{
    Console.Error.WriteLine("usage: CustomServer CHECKPOINT_DIR [--host 127.0.0.1] [--port 30000] [--device auto|cuda|cpu]");
    return 2;
}
string host = Option("--host") ?? "127.0.0.1";
int port = int.Parse(Option("--port") ?? "30000", System.Globalization.CultureInfo.InvariantCulture);
string device = Option("--device") ?? "auto";

using Engine engine = await Engine.CreateAsync(checkpoint, new EngineOptions { Device = device });
Console.WriteLine($"# {checkpoint} on {engine.Device}: {engine.ModelDescription}");

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls($"http://{host}:{port}");
WebApplication app = builder.Build();
app.MapSpecialized(engine, modelName: "default");
// Your own endpoints live beside the engine's; this one reports the engine's metrics.
app.MapGet("/metrics", () =>
{
    EngineMetrics m = engine.GetMetrics();
    return $"{m.RunningRequests} running, {m.QueuedRequests} queued; {m.UsedKvPages}/{m.TotalKvPages} KV pages in use, {m.CachedKvPages} cached, " +
        $"prefix hit rate {m.PrefixCacheHitRate:P0}; {m.GenerationThroughput:F1} tok/s generated";
});
await app.RunAsync();
return 0;

string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();

bool IsOptionValue(string arg) => args.TakeWhile(a => a != arg).LastOrDefault() is "--host" or "--port" or "--device";
