using System.Text.Json;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Models;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

/// <summary>
/// The CPU backend end to end against Hugging Face transformers: tiny random-weight checkpoints of several shapes
/// (GQA, MQA with an untied head, plain multi-head with an odd head count, group size 7, sliding windows) saved by
/// <c>save_pretrained</c>, with float32 logits, final hidden states and greedy tokens recorded by HF
/// (tools/reference/make_model_references.py, run on the GPU machine).
/// </summary>
public sealed class HfReferenceTests
{
    // HF float32 and a float64 re-implementation agree to ~2e-5 on these models (reference.json's checks); our float32
    // differs from HF's only in summation order, so 1e-3 on logits of size up to ~20 leaves a 50x margin while a
    // wrong rotation, mask or head mapping moves logits by whole units.
    private const double LogitTolerance = 1e-3;
    private const double HiddenTolerance = 2e-4;

    // Below this top-1/top-2 margin either side's rounding may pick the other token, so greedy tokens are compared
    // only up to the first such step (the logits are still compared at every step).
    private const double ClearMargin = 0.01;

    public static TheoryData<string> Shapes() => ["gqa", "mqa-untied", "mha-odd", "gqa7", "sliding"];

    private static string Folder(string shape) => Path.Combine(RepoPaths.TestSource, "Data", "models", shape);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Prefill_logits_and_hidden_states_match_hf(string shape)
    {
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(shape), "reference.json")));
        using LoadedModel loaded = Load(shape);
        Assert.Empty(loaded.Warnings);
        Assert.Null(loaded.Specialization);  // no config under models/ has these shapes: the generic kernels run them
        int vocab = loaded.Runner.Spec.VocabSize, hidden = loaded.Runner.Spec.HiddenSize;

        foreach (JsonElement c in reference.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] prompt = Ints(c.GetProperty("prompt"));
            ForwardOutput output = loaded.Runner.Forward(Batch(prompt, 0, Enumerable.Range(0, prompt.Length).ToArray()), returnHiddenStates: true);
            AssertClose(c.GetProperty("prefill").GetProperty("logits"), output.Logits.Span, vocab, LogitTolerance, $"{shape} prefill of {prompt.Length}");
            AssertClose(c.GetProperty("final_hidden"), output.HiddenStates.Span, hidden, HiddenTolerance, $"{shape} hidden states of {prompt.Length}");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Greedy_decoding_matches_hf(string shape)
    {
        using JsonDocument reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder(shape), "reference.json")));
        using LoadedModel loaded = Load(shape);
        int vocab = loaded.Runner.Spec.VocabSize;

        foreach (JsonElement c in reference.RootElement.GetProperty("cases").EnumerateArray())
        {
            int[] prompt = Ints(c.GetProperty("prompt"));
            JsonElement greedy = c.GetProperty("greedy");
            int[] expected = Ints(greedy.GetProperty("new_tokens"));
            double[] margins = greedy.GetProperty("margins").EnumerateArray().Select(m => m.GetDouble()).ToArray();
            JsonElement[] stepLogits = greedy.GetProperty("step_logits").EnumerateArray().ToArray();

            // Teacher-forced on HF's tokens, so every step's logits are comparable even past a near-tie.
            ReadOnlyMemory<float> logits = loaded.Runner.Forward(Batch(prompt, 0, [prompt.Length - 1])).Logits;
            bool tokensComparable = true;
            for (int k = 0; k < expected.Length; k++)
            {
                AssertClose(stepLogits[k], logits.Span, vocab, LogitTolerance, $"{shape} step {k} after {prompt.Length}");
                tokensComparable &= margins[k] > ClearMargin;
                if (tokensComparable) Assert.Equal(expected[k], ArgMax(logits.Span));
                if (k + 1 < expected.Length) logits = loaded.Runner.Forward(Batch([expected[k]], prompt.Length + k, [0])).Logits;
            }
        }
    }

    [Fact]
    public void Sliding_config_from_transformers5_resolves_its_windows()
    {
        ModelSpec spec = ModelConfig.Load(Folder("sliding"));
        Assert.Equal([0, 8, 8], spec.SlidingWindows);
    }

    private static LoadedModel Load(string shape) =>
        ModelLoader.Load(Folder(shape), new CpuBackend(), _ => new RunnerOptions(64, 64, new KvCacheLayout(16, 4), 64));

    private static ForwardBatch Batch(int[] tokens, int cached, int[] logitRows) =>
        new(tokens, Enumerable.Range(cached, tokens.Length).ToArray(), [0, tokens.Length], [cached], [Enumerable.Range(0, 16).ToArray()], 4, logitRows);

    private static void AssertClose(JsonElement expected, ReadOnlySpan<float> actual, int width, double tolerance, string what)
    {
        float[] flat = expected.ValueKind == JsonValueKind.Array && expected[0].ValueKind == JsonValueKind.Array
            ? expected.EnumerateArray().SelectMany(row => row.EnumerateArray()).Select(v => v.GetSingle()).ToArray()
            : expected.EnumerateArray().Select(v => v.GetSingle()).ToArray();
        Assert.True(flat.Length == actual.Length, $"{what}: {flat.Length} values expected, {actual.Length} computed");
        double worst = 0;
        int at = 0;
        for (int i = 0; i < flat.Length; i++)
        {
            double d = Math.Abs(flat[i] - actual[i]);
            if (d > worst) (worst, at) = (d, i);
        }
        Assert.True(worst < tolerance, $"{what}: max |diff| {worst:G3} at row {at / width}, column {at % width}");
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++)
        {
            if (v[i] > v[best]) best = i;
        }
        return best;
    }
}
