namespace Specialized.Server.Protocol;

/// <summary>The body of <c>GET /v1/models</c>: the one model this server serves.</summary>
internal sealed record ModelList(List<ModelCard> Data)
{
    public string Object => "list";
}

/// <param name="MaxModelLen">The context length (SGLang's extra field).</param>
internal sealed record ModelCard(string Id, long Created, int MaxModelLen)
{
    public string Object => "model";
    public string OwnedBy => "specialized";
}
