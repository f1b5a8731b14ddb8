using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Specialized.Kernels;

/// <summary>
/// The tensor-core instruction the tensor-core kernels share: PTX <c>mma.sync.m16n8k16</c> on bf16 with float32
/// accumulation, through ILGPU's inline PTX, and its fragments. Fragment layouts are those of the PTX ISA
/// (mma.m16n8k16, .bf16): with g = lane / 4 and q = lane % 4, A's registers hold rows g and g + 8 at columns 2q, 2q + 1
/// (and + 8); B's hold column g at rows 2q, 2q + 1 (and + 8); C's hold rows g, g + 8 at columns 2q and 2q + 1. A 32-bit
/// register holds two bf16, the lower column (or row, for B) in its low half.
/// <para>
/// The kernels take the instruction as a type parameter, <see cref="IMma"/>: <see cref="PtxMma"/> on CUDA,
/// <see cref="EmulatedMma"/> off it (ILGPU's CPU accelerator in tests), which computes the same instruction from those
/// layouts with the warp's lanes, so the kernels' tiling is tested everywhere and only the instruction itself needs a
/// GPU. A type, not a run-time test such as <c>CudaAsm.IsSupported</c>: ILGPU folds that test only in its backend
/// passes, after inlining and optimization, so the emulation rode along, dead, in every CUDA kernel; the tensor-core
/// attention's PTX was 1.04 MB instead of 0.31 MB and took 3.1 s instead of 0.8 s to compile.
/// </para>
/// </summary>
internal interface IMma
{
    /// <summary>
    /// D = A·B + C for one 16 x 8 x 16 tile, across the warp. <paramref name="exchange"/> is the group's shared scratch
    /// of <see cref="Mma.ExchangeWords"/> words a thread, used only by the emulation.
    /// </summary>
    CFragment Multiply(CFragment c, AFragment a, BFragment b, ArrayView<uint> exchange);

    /// <summary>
    /// bf16(<paramref name="low"/>) in the low half and bf16(<paramref name="high"/>) in the high half, rounded to
    /// nearest even.
    /// </summary>
    uint Pack(float low, float high);

    /// <summary>Words of <c>exchange</c> a thread needs: the emulation's <see cref="Mma.ExchangeWords"/>, none for the instruction.</summary>
    int ExchangeWords { get; }
}

/// <summary>The instruction itself, through inline PTX: kernels for CUDA.</summary>
internal readonly struct PtxMma : IMma
{
    public int ExchangeWords => 0;

    public CFragment Multiply(CFragment c, AFragment a, BFragment b, ArrayView<uint> exchange)
    {
        Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
        Input<uint> a0 = a.R0, a1 = a.R1, a2 = a.R2, a3 = a.R3, b0 = b.R0, b1 = b.R1;
        CudaAsm.EmitRef(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1);
        return new CFragment(d0.Value, d1.Value, d2.Value, d3.Value);
    }

    /// <summary>One <c>cvt.rn.bf16x2.f32</c>, which puts its first source in the high half.</summary>
    public uint Pack(float low, float high)
    {
        Output<uint> d = default;
        Input<float> a = high, b = low;
        CudaAsm.EmitRef("cvt.rn.bf16x2.f32 %0, %1, %2;", ref d, ref a, ref b);
        return d.Value;
    }
}

/// <summary>
/// The instruction computed from the ISA's fragment layouts, for ILGPU's CPU accelerator: the four lanes of a group
/// together hold a row of A (k = 2j, 2j + 1 in lane 4g + j's first registers, k + 8 in its others) and a column of B
/// likewise. The lanes swap registers through shared memory: one warp barrier, where 32 shuffles would cost the
/// simulator far more.
/// </summary>
internal readonly struct EmulatedMma : IMma
{
    public int ExchangeWords => Mma.ExchangeWords;

    public CFragment Multiply(CFragment c, AFragment a, BFragment b, ArrayView<uint> exchange)
    {
        int lane = Warp.LaneIdx, g = lane >> 2, q = lane & 3;
        ArrayView<uint> mine = exchange.SubView(Warp.WarpIdx * 32 * Mma.ExchangeWords, 32 * Mma.ExchangeWords);
        int at = lane * Mma.ExchangeWords;
        mine[at] = a.R0; mine[at + 1] = a.R1; mine[at + 2] = a.R2; mine[at + 3] = a.R3; mine[at + 4] = b.R0; mine[at + 5] = b.R1;
        Warp.Barrier();
        float d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
        for (int j = 0; j < 4; j++)
        {
            int rows = (4 * g + j) * Mma.ExchangeWords, left = (8 * q + j) * Mma.ExchangeWords, right = (8 * q + 4 + j) * Mma.ExchangeWords;
            uint top = mine[rows], bottom = mine[rows + 1], top8 = mine[rows + 2], bottom8 = mine[rows + 3];
            uint l = mine[left + 4], l8 = mine[left + 5], r = mine[right + 4], r8 = mine[right + 5];
            d0 += Dot2(top, l) + Dot2(top8, l8);
            d1 += Dot2(top, r) + Dot2(top8, r8);
            d2 += Dot2(bottom, l) + Dot2(bottom8, l8);
            d3 += Dot2(bottom, r) + Dot2(bottom8, r8);
        }
        Warp.Barrier();
        return new CFragment(d0, d1, d2, d3);
    }

    public uint Pack(float low, float high) => Mma.ToBf16(low) | (Mma.ToBf16(high) << 16);

    private static float Dot2(uint a, uint b) =>
        KernelMath.Bf16(a & 0xFFFF) * KernelMath.Bf16(b & 0xFFFF) + KernelMath.Bf16(a >> 16) * KernelMath.Bf16(b >> 16);
}

/// <summary>What the <see cref="IMma"/> implementations share.</summary>
internal static class Mma
{
    /// <summary>Registers a lane shares per emulated MMA: four of A, two of B.</summary>
    public const int ExchangeWords = 6;

    /// <summary>
    /// The group's exchange scratch for <typeparamref name="TMma"/>: <see cref="ExchangeWords"/> words a thread for the
    /// emulation, nothing for the instruction (which reads none: a zero-length allocation, which ILGPU leaves out of the PTX).
    /// </summary>
    public static ArrayView<uint> Exchange<TMma>(int threads) where TMma : struct, IMma =>
        SharedMemory.Allocate<uint>(default(TMma).ExchangeWords * threads);

    /// <summary>Round to nearest even, as a bf16 bit pattern (the values are finite).</summary>
    public static uint ToBf16(float v)
    {
        uint bits = Interop.FloatAsInt(v);
        return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    }
}

/// <summary>
/// Two values as bf16 terms, hi = bf16(x) and lo = bf16(x − hi), each a packed pair (the first value in the low half):
/// x is then carried to ~2^-17 of itself (each rounding keeps 8 significant bits), where hi alone carries it to 2^-9.
/// </summary>
internal readonly struct Bf16Split(uint hi, uint lo)
{
    public readonly uint Hi = hi, Lo = lo;

    public static Bf16Split Of<TMma>(float low, float high) where TMma : struct, IMma
    {
        uint hi = default(TMma).Pack(low, high);
        return new Bf16Split(hi, default(TMma).Pack(low - KernelMath.Bf16(hi & 0xFFFF), high - Interop.IntAsFloat(hi & 0xFFFF0000u)));
    }
}

/// <summary>An A fragment: rows g, g + 8 at columns 2q.. (R0, R1) and 2q + 8.. (R2, R3).</summary>
internal readonly struct AFragment(uint r0, uint r1, uint r2, uint r3)
{
    public readonly uint R0 = r0, R1 = r1, R2 = r2, R3 = r3;
}

/// <summary>An A fragment as its hi and lo bf16 terms (<see cref="Bf16Split"/>).</summary>
internal readonly struct SplitFragment(AFragment hi, AFragment lo)
{
    public readonly AFragment Hi = hi, Lo = lo;
}

/// <summary>A B fragment: column g at rows 2q.. (R0) and 2q + 8.. (R1).</summary>
internal readonly struct BFragment(uint r0, uint r1)
{
    public readonly uint R0 = r0, R1 = r1;

    /// <summary>From a tile staged with B's columns as rows (k along the row), at the word of (column g, row pair q).</summary>
    public static BFragment Read(ArrayView<uint> tile, int at) => new(tile[at], tile[at + 4]);
}

/// <summary>A C/D fragment: rows g (C0, C1) and g + 8 (C2, C3) at columns 2q, 2q + 1.</summary>
internal readonly struct CFragment(float c0, float c1, float c2, float c3)
{
    public readonly float C0 = c0, C1 = c1, C2 = c2, C3 = c3;

    /// <summary>Row g's values times <paramref name="top"/>, row g + 8's times <paramref name="bottom"/>.</summary>
    public CFragment Scale(float top, float bottom) => new(C0 * top, C1 * top, C2 * bottom, C3 * bottom);
}

/// <summary>Four 32-bit words: one 16-byte shared-memory store.</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 16)]
internal readonly struct Words4(uint a, uint b, uint c, uint d)
{
    public readonly uint A = a, B = b, C = c, D = d;
}

/// <summary>Two 32-bit words: one 8-byte shared-memory store.</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 8)]
internal readonly struct Words2(uint a, uint b)
{
    public readonly uint A = a, B = b;
}
