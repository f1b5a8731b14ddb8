namespace Specialized.Tests.Engine;

/// <summary>samples/OfflineBatch, run in-process: its arguments as the README gives them, and its four modes on the tiny text model.</summary>
public sealed class OfflineBatchSampleTests(TinyTextModel model) : IClassFixture<TinyTextModel>
{
    [Theory]
    [InlineData("", null, "auto")]
    [InlineData("--device cpu", null, "cpu")]
    [InlineData("--device=cuda", null, "cuda")]
    [InlineData("ckpt", "ckpt", "auto")]
    [InlineData("ckpt --device cpu", "ckpt", "cpu")]
    [InlineData("--device cpu ckpt", "ckpt", "cpu")]
    public void Options_go_in_any_order_and_the_folder_is_optional(string args, string? checkpoint, string device) =>
        Assert.Equal((checkpoint, device), OfflineBatch.ParseArguments(args.Split(' ', StringSplitOptions.RemoveEmptyEntries)));

    [Theory]
    [InlineData("--device")]
    [InlineData("--port 1")]
    [InlineData("one two")]
    public void Arguments_that_make_no_sense_are_refused(string args) =>
        Assert.Null(OfflineBatch.ParseArguments(args.Split(' ')));

    [Fact]
    public async Task The_four_modes_run_on_a_checkpoint()
    {
        var output = new StringWriter();
        Assert.Equal(0, await OfflineBatch.RunAsync([model.Folder, "--device", "cpu"], output));
        string text = output.ToString();
        foreach (string mode in new[] { "Non-streaming synchronous", "Streaming synchronous", "Non-streaming asynchronous", "Streaming asynchronous" })
        {
            Assert.Contains($"=== {mode} generation ===", text);
        }
        Assert.Equal(4 * 4, text.Split("Prompt: ").Length - 1);
        Assert.Contains("# last request:", text);
    }
}
