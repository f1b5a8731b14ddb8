using ILGPU;
using ILGPU.Algorithms;

namespace Specialized.Kernels;

/// <summary>Helpers the kernels share: bfloat16 widening and warp/group reductions (warps of 32 lanes).</summary>
internal static class KernelMath
{
    /// <summary>A bfloat16 is the top half of the float32 with the same value.</summary>
    public static float Bf16(uint bits) => Interop.IntAsFloat(bits << 16);

    /// <summary>silu(gate) · up, as every kernel that ends the MLP's gate/up projection computes it.</summary>
    public static float SiluMul(float gate, float up) => gate / (1f + XMath.Exp(-gate)) * up;

    /// <summary>The sum over the warp, in every lane. (Written out: ILGPU keeps a loop over the offsets a loop.)</summary>
    public static float WarpSum(float value)
    {
        value += Warp.ShuffleXor(value, 16);
        value += Warp.ShuffleXor(value, 8);
        value += Warp.ShuffleXor(value, 4);
        value += Warp.ShuffleXor(value, 2);
        return value + Warp.ShuffleXor(value, 1);
    }

    /// <summary>The maximum over the warp, in every lane.</summary>
    public static float WarpMax(float value)
    {
        value = XMath.Max(value, Warp.ShuffleXor(value, 16));
        value = XMath.Max(value, Warp.ShuffleXor(value, 8));
        value = XMath.Max(value, Warp.ShuffleXor(value, 4));
        value = XMath.Max(value, Warp.ShuffleXor(value, 2));
        return XMath.Max(value, Warp.ShuffleXor(value, 1));
    }

    /// <summary>The sum over the group, in every thread. Group size is a multiple of 32, at most 1024.</summary>
    public static float GroupSum(float value)
    {
        ArrayView<float> partial = SharedMemory.Allocate<float>(32);
        value = WarpSum(value);
        if (Warp.LaneIdx == 0) partial[Warp.WarpIdx] = value;
        Group.Barrier();
        int warps = Group.DimX / 32;
        value = Warp.LaneIdx < warps ? partial[Warp.LaneIdx] : 0f;
        return WarpSum(value);
    }
}
