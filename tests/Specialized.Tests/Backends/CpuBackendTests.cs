using Specialized.Backends;
using Specialized.Models;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

/// <summary>
/// The CPU backend end to end against an independent float64 reference, and against itself across batch shapes:
/// chunked prefill, decode, scattered KV pages and mixed batches must all give the same numbers.
/// </summary>
public sealed class CpuBackendTests
{
    // Tolerance: float32 accumulation over at most a few hundred terms of size ~1 per dot product gives relative errors
    // near 1e-6; two or three layers and a softmax keep the logit error below 1e-4 for logits of size ~10. A wrong
    // rotation, mask or head mapping moves logits by O(1), so 1e-3 separates bugs from rounding with a wide margin.
    private const double Tolerance = 1e-3;

    private static ModelSpec Spec(string extra = "") => ModelConfig.Parse($$"""
        {"model_type": "qwen2", "vocab_size": 97, "hidden_size": 48, "intermediate_size": 72, "num_hidden_layers": 2,
         "num_attention_heads": 6, "num_key_value_heads": 2, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
         "tie_word_embeddings": false {{extra}}}
        """);

    private static readonly RunnerOptions Options = new(MaxBatchTokens: 64, MaxLogitRows: 64, Kv: new KvCacheLayout(32, 4), MaxPositions: 128);

    private static readonly int[] Prompt = [5, 17, 3, 96, 42, 0, 7, 7, 61, 23, 88];

    /// <summary>A batch of one sequence extending <paramref name="cached"/> tokens, logits for every token.</summary>
    private static ForwardBatch One(int[] tokens, int cached, int[] pages) =>
        new(tokens, Enumerable.Range(cached, tokens.Length).ToArray(), [0, tokens.Length], [cached], [pages], Options.Kv.PageSize,
            Enumerable.Range(0, tokens.Length).ToArray());

    private static float[] Run(IModelRunner runner, ForwardBatch batch) => runner.Forward(batch).Logits.ToArray();

    [Theory]
    [InlineData("")]
    [InlineData(", \"tie_word_embeddings\": true, \"rope_theta\": 1000000.0")]
    [InlineData(", \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 1")]
    public void Prefill_matches_the_float64_reference(string extra)
    {
        var model = new RandomModel(Spec(extra), seed: 1);
        using var runner = model.Runner(new GenericQwen2Model(model.Spec), Options);
        float[] logits = Run(runner, One(Prompt, 0, [0, 1, 2]));
        double[][] expected = ReferenceQwen2.Logits(model, Prompt);

        for (int t = 0; t < Prompt.Length; t++)
        {
            for (int v = 0; v < model.Spec.VocabSize; v++)
            {
                Assert.True(Math.Abs(logits[t * model.Spec.VocabSize + v] - expected[t][v]) < Tolerance,
                    $"position {t}, token {v}: {logits[t * model.Spec.VocabSize + v]} vs {expected[t][v]}");
            }
        }
    }

    [Fact]
    public void Chunked_prefill_and_decode_match_one_prefill_with_scattered_pages()
    {
        var model = new RandomModel(Spec(), seed: 2);
        int vocab = model.Spec.VocabSize;
        using var whole = model.Runner(new GenericQwen2Model(model.Spec), Options);
        float[] expected = Run(whole, One(Prompt, 0, [0, 1, 2]));

        // Pages in an arbitrary order, a chunk of 4 then 5, then two decode steps.
        int[] pages = [9, 3, 17];
        using var chunked = model.Runner(new GenericQwen2Model(model.Spec), Options);
        var actual = new List<float>();
        actual.AddRange(Run(chunked, One(Prompt[..4], 0, pages)));
        actual.AddRange(Run(chunked, One(Prompt[4..9], 4, pages)));
        actual.AddRange(Run(chunked, One(Prompt[9..10], 9, pages)));
        actual.AddRange(Run(chunked, One(Prompt[10..], 10, pages)));

        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"position {i / vocab}: {expected[i]} vs {actual[i]}");
        }
    }

    [Fact]
    public void A_mixed_batch_gives_each_sequence_its_own_result()
    {
        var model = new RandomModel(Spec(), seed: 3);
        int vocab = model.Spec.VocabSize;
        int[] a = Prompt, b = [1, 2, 3];
        float[] aloneA, aloneB;
        using (var r = model.Runner(new GenericQwen2Model(model.Spec), Options)) aloneA = Run(r, One(a, 0, [0, 1, 2]));
        using (var r = model.Runner(new GenericQwen2Model(model.Spec), Options)) aloneB = Run(r, One(b, 0, [5]));

        using var both = model.Runner(new GenericQwen2Model(model.Spec), Options);
        var batch = new ForwardBatch([.. b, .. a], [0, 1, 2, .. Enumerable.Range(0, a.Length)], [0, b.Length, b.Length + a.Length],
            [0, 0], [[5], [0, 1, 2]], Options.Kv.PageSize, [b.Length - 1, b.Length + a.Length - 1]);
        float[] mixed = Run(both, batch);

        for (int v = 0; v < vocab; v++)
        {
            Assert.True(Math.Abs(mixed[v] - aloneB[(b.Length - 1) * vocab + v]) < 1e-4);
            Assert.True(Math.Abs(mixed[vocab + v] - aloneA[(a.Length - 1) * vocab + v]) < 1e-4);
        }
    }

    [Fact]
    public void The_generated_model_and_the_generic_one_compute_the_same_bits()
    {
        ModelSpec spec = Tiny.Spec;
        var model = new RandomModel(spec, seed: 4);
        var options = Options with { MaxBatchTokens = 8, MaxLogitRows = 8 };
        using var generated = model.Runner(new Tiny.Model(), options);
        using var generic = model.Runner(new GenericQwen2Model(spec), options);
        int[] tokens = [151643, 9707, 11, 1879, 0, 151645];

        float[] a = Run(generated, One(tokens, 0, [0, 1]));
        float[] b = Run(generic, One(tokens, 0, [0, 1]));
        Assert.True(generated.IsSpecialized);
        Assert.False(generic.IsSpecialized);
        Assert.Equal(b, a);
    }

    [Fact]
    public void Hidden_states_are_returned_when_asked()
    {
        var model = new RandomModel(Spec(), seed: 5);
        using var runner = model.Runner(new GenericQwen2Model(model.Spec), Options);
        ForwardOutput output = runner.Forward(One(Prompt, 0, [0, 1, 2]), returnHiddenStates: true);
        Assert.Equal(Prompt.Length * model.Spec.HiddenSize, output.HiddenStates.Length);
        Assert.Contains(output.HiddenStates.ToArray(), h => h != 0);
    }

    [Fact]
    public void Bad_batches_are_refused_with_a_clear_error()
    {
        var model = new RandomModel(Spec(), seed: 6);
        using var runner = model.Runner(new GenericQwen2Model(model.Spec), Options);
        var tooMany = Enumerable.Repeat(1, Options.MaxBatchTokens + 1).ToArray();
        Assert.Contains("at most 64", Assert.Throws<ArgumentException>(() => runner.Forward(One(tooMany, 0, Enumerable.Range(0, 17).ToArray()))).Message);
        Assert.Contains("outside the vocabulary", Assert.ThrowsAny<ArgumentException>(() => runner.Forward(One([97], 0, [0]))).Message);
    }
}
