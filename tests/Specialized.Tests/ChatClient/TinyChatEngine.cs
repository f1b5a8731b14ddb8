using Specialized.Tests.Engine;

namespace Specialized.Tests.ChatClient;

/// <summary>One engine on <see cref="TinyTextModel"/> for a whole test class: loading the tokenizer is most of a request's cost.</summary>
public sealed class TinyChatEngine : IDisposable
{
    private readonly TinyTextModel _model = new();

    public TinyChatEngine() =>
        Engine = Specialized.Engine.Create(_model.Folder, new EngineOptions { Device = "cpu", MaxTotalTokens = 2048, PageSize = 4, ContextLength = 128 });

    public string Folder => _model.Folder;

    public Specialized.Engine Engine { get; }

    public void Dispose()
    {
        Engine.Dispose();
        _model.Dispose();
    }
}
