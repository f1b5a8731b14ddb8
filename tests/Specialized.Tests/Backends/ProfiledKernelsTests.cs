using System.Diagnostics;
using Specialized.Backends;
using Specialized.Backends.Cpu;
using Specialized.Models;
using Specialized.Tests.Support;

namespace Specialized.Tests.Backends;

public sealed class ProfiledKernelsTests
{
    /// <summary>On the CPU backend every call is done when it returns, so the host's clock stands in for a device's.</summary>
    private sealed class HostClock : IDeviceClock
    {
        public int Live { get; private set; }

        public object Mark()
        {
            Live++;
            return Stopwatch.GetTimestamp();
        }

        public double Milliseconds(object start, object end) => Stopwatch.GetElapsedTime((long)start, (long)end).TotalMilliseconds;

        public void Release(object mark) => Live--;
    }

    [Fact]
    public void A_profile_counts_every_call_by_kind_of_step_and_changes_no_result()
    {
        ModelSpec spec = ModelConfig.Parse("""
            {"model_type": "qwen2", "vocab_size": 24, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
             "num_attention_heads": 2, "num_key_value_heads": 1}
            """);
        var options = new RunnerOptions(MaxBatchTokens: 8, MaxLogitRows: 8, Kv: new KvCacheLayout(4, 4), MaxPositions: 32);
        var random = new RandomModel(spec, seed: 3);
        using var plain = random.Runner(new GenericQwen2Model(spec), options);

        var model = new GenericQwen2Model(spec);
        var backend = new CpuBackend();
        random.Bind(model.Weights, backend);
        var clock = new HostClock();
        using var profiled = new ProfiledKernels<RuntimeDims>(backend.CreateKernels(model.Dims, options), clock, reportPath: null);
        int t = options.MaxBatchTokens;
        using var x = new Qwen2Workspace(backend.CreateActivations(t, 32), backend.CreateActivations(t, 32), backend.CreateActivations(t, 32),
            backend.CreateActivations(t, model.Dims.QkvSize), backend.CreateActivations(t, 32), backend.CreateActivations(t, 96),
            backend.CreateActivations(t, 48), backend.CreateActivations(options.MaxLogitRows, 24));

        ForwardBatch prefill = new([3, 7, 1], [0, 1, 2], [0, 3], [0], [[2]], 4, [2]);
        ForwardBatch decode = new([5], [3], [0, 1], [3], [[2]], 4, [0]);
        foreach (ForwardBatch step in new[] { prefill, decode })
        {
            float[] expected = plain.Forward(step).Logits.ToArray();
            model.Forward(profiled, x, step);
            var actual = new float[expected.Length];
            backend.CopyRows(x.Logits, 1, actual);
            Assert.Equal(expected, actual);
        }

        string report = profiled.Report();
        Assert.Equal(0, clock.Live);
        Assert.Contains("== prefill/mixed T<=4: 1 steps", report);
        Assert.Contains("== decode T<=1: 1 steps", report);
        // Per step: the qkv, o, gate_up and down projections of each of the 2 layers, the final norm.
        Assert.Matches(@"\s2x .*NormQkv 64x32", report);
        Assert.Matches(@"\s2x .*LinearAdd 32x32", report);
        Assert.Matches(@"\s2x .*NormGateUp 96x32", report);
        Assert.Matches(@"\s2x .*LinearAdd 32x48", report);
        Assert.Matches(@"\s2x .*Attention", report);
        Assert.Matches(@"\s1x .*RmsNorm", report);
        Assert.Matches(@"\s1x .*Logits", report);
    }
}
