using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Specialized.Backends;
using Specialized.Backends.Ilgpu;
using Specialized.Models;
using Specialized.Tests.Support;
using Specialized.Tests.Weights;
using Specialized.Weights;

namespace Specialized.Tests.Backends;

/// <summary>
/// Weights on the ILGPU backend: a bf16 checkpoint's matrices go to the device straight from the mapped file, the
/// stacked and converted ones through a host buffer; either way the device holds the bf16 the Write methods give.
/// </summary>
public sealed class IlgpuWeightUploadTests
{
    [Theory]
    [InlineData(SafetensorsDType.BFloat16)]
    [InlineData(SafetensorsDType.Float32)]
    public void Every_matrix_reaches_the_device_as_its_bf16_values(SafetensorsDType stored)
    {
        using var temp = new TempFolder();
        var weights = new Tiny.Model().Weights;
        SafetensorsWriter.WriteCheckpoint(temp.Path, TestCheckpoints.Random(weights, stored, seed: 21).Tensors);
        using Checkpoint checkpoint = Checkpoint.Open(temp.Path);
        using IlgpuBackend backend = IlgpuBackend.CreateCpuSimulator();

        int direct = 0;
        foreach (ParameterPlan p in WeightBinder.Plan(weights, checkpoint).Parameters.Where(p => p.Parameter.Shape.Count == 2))
        {
            var expected = new ushort[p.ElementCount];
            p.WriteBFloat16(expected);
            if (((IWeightSource)p).TryGetStored(DType.BFloat16, out _)) direct++;
            using Tensor t = backend.CreateWeight(p.Parameter, DType.BFloat16, p);
            ushort[] actual = ((ArrayView1D<ushort, Stride1D.Dense>)IlgpuTensor.Of(t).B16).GetAsArray1D();
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{p.Parameter.Name} differs on the device");
        }
        // The single-tensor matrices (o, down, the embedding) of a bf16 checkpoint took the direct path; qkv and gate_up stack.
        Assert.Equal(stored == SafetensorsDType.BFloat16, direct > 0);
    }
}
