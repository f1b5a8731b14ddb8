using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.EntryPoints;
using ILGPU.Runtime;

namespace Specialized.Kernels;

/// <summary>Eight bfloat16 weights: one 16-byte load.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct Bf16x8
{
    public ulong Low, High;
}

/// <summary>Four floats: one 16-byte load.</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct Float4
{
    public float A, B, C, D;
}

/// <summary>What a GEMV does with its rows' sums (<see cref="LinearKernel"/>).</summary>
internal enum GemvEpilogue
{
    /// <summary>y = sum (+ bias).</summary>
    Store = 0,

    /// <summary>y += sum: a projection added into the residual stream.</summary>
    Add = 1,

    /// <summary>
    /// y[t, o] = silu(gate) · up, where gate is output row o and up row o + outputs of the weight ([gate | up] rows,
    /// as gate_up_proj stacks them): the MLP's first half without its [T, 2 x intermediate] intermediate.
    /// </summary>
    SiluPair = 2,

    /// <summary>
    /// The attention's input projection with RoPE and the KV write: output units are (head, i &lt; d/2) row pairs (i, i + d/2)
    /// of the q | k | v rows, y [T, 2 x outputs] gets all of them, the q and k pairs rotated at each token's position (neox
    /// layout), and each token's k and v go to its slot of the paged KV cache (<see cref="GemvKvTarget"/>).
    /// </summary>
    RotaryPairs = 3,
}

/// <summary>
/// What a GEMV's input rows are (<see cref="LinearKernel"/>), fixed when it compiles, so each kind gets the registers its
/// own loop needs (one kernel for all three took 109 a thread, and half the SM's warps).
/// </summary>
internal interface IGemvRows
{
    /// <summary>The rows are the residual stream, RMS-normalized on the way in.</summary>
    bool Normed { get; }

    /// <summary>Each output reads two weight rows: o and o + outputs (<see cref="GemvEpilogue.SiluPair"/>), or a rotary pair.</summary>
    bool Pair { get; }

    /// <summary>The pairs are rotary, (i, i + d/2) in a head: <see cref="GemvEpilogue.RotaryPairs"/>.</summary>
    bool Rotary { get; }

    /// <summary>Stores one element of a KV cache in its format (rotary rows only).</summary>
    void StoreKv(ArrayView<float> cache, int index, float value);

    /// <summary>
    /// Groups an SM holds (the launch bounds, <see cref="LinearKernel.Specialization{TRows}"/>): what ptxas needs without
    /// spilling in the loop, 64 registers a thread for plain rows (ptxas 11.8 keeps one value in local memory there, a
    /// load an iteration), 96 for pairs. Each keeps 32 KB or more of weight loads in flight an SM.
    /// </summary>
    int GroupsPerMultiprocessor { get; }
}

/// <summary>Plain input rows: the o and down projections, the LM head.</summary>
internal readonly struct PlainRows : IGemvRows
{
    public bool Normed => false;

    public bool Pair => false;

    public bool Rotary => false;

    public void StoreKv(ArrayView<float> cache, int index, float value)
    {
    }

    public int GroupsPerMultiprocessor => 4;
}

/// <summary>Normed input rows onto gate and up row pairs: gate_up with SiLU.</summary>
internal readonly struct NormedPairs : IGemvRows
{
    public bool Normed => true;

    public bool Pair => true;

    public bool Rotary => false;

    public void StoreKv(ArrayView<float> cache, int index, float value)
    {
    }

    public int GroupsPerMultiprocessor => 2;
}

/// <summary>Normed input rows onto rotary row pairs of q | k | v, the keys and values stored in <typeparamref name="TKv"/>: qkv with RoPE and the KV write.</summary>
internal readonly struct NormedRotaryPairs<TKv> : IGemvRows where TKv : struct, IKvFormat
{
    public bool Normed => true;

    public bool Pair => true;

    public bool Rotary => true;

    public void StoreKv(ArrayView<float> cache, int index, float value) => default(TKv).Store(cache, index, value);

    public int GroupsPerMultiprocessor => 2;
}

/// <summary>
/// y[t, o] = Σ_k x[t, k]·W[o, k] (+ b[o]) with bfloat16 W and float32 accumulation: the GEMV shape of decode (bigger
/// batches take the tiled GEMMs). A group of G warps (8 on a GPU) takes G / <c>warpsPerRow</c> output rows and up to
/// <see cref="TokensPerWarp"/> tokens, so each weight row is read once per token block. The warps of a row split its k
/// between them (warp s of W reads octets s·32 + lane, then every 32·W further): a decode step's small projections
/// (896 rows of 608 octets for down) otherwise leave most SMs with a few warps, each waiting on a chain of round trips
/// to memory. Each lane issues four 16-byte weight loads before using any. The warps' sums meet in shared memory and
/// are added in warp order (deterministic).
/// <para>
/// Fused on the way in: with <see cref="IGemvRows.Normed"/> the input rows are the residual stream and the GEMV
/// applies RMSNorm to them, x · norm / rms(x), as the sum inv_rms · Σ_k x·norm·W, the sum of squares gathered from the
/// same loads, so the norm costs no pass of its own. On the way out: <see cref="GemvEpilogue"/>; with rotary rows
/// the lane that finishes a (token, pair) rotates it and writes it to the KV cache, so a decode step's qkv needs no
/// kernel of its own for RoPE. Needs inDim a multiple of 8.
/// </para>
/// </summary>
internal static class LinearKernel
{
    public const int TokensPerWarp = 4;

    /// <summary>The widest group: 8 warps (groups may be narrower, on ILGPU's CPU accelerator; warpsPerRow divides their warps).</summary>
    public const int MaxGroupSize = 256;

    private const int MaxWarps = MaxGroupSize / 32;

    /// <summary>A warp's partial sums in shared memory: two rows of four tokens, and four tokens' squares.</summary>
    private const int PartialFloats = 12;

    /// <summary>The launch bounds of a kind of rows: 256 threads, its groups an SM.</summary>
    public static KernelSpecialization Specialization<TRows>() where TRows : struct, IGemvRows =>
        new(MaxGroupSize, default(TRows).GroupsPerMultiprocessor);

    [KernelName("LinearKernel")]
    public static void Run<TRows>(ArrayView<Float4> x, ArrayView<Float4> norm, ArrayView<Bf16x8> weight, ArrayView<float> bias, ArrayView<float> y,
        GemvShape shape, TRows rows, ArrayView<float> cos, ArrayView<float> sin, ArrayView<int> positions, ArrayView<int> slots,
        ArrayView<float> keys, ArrayView<float> values) where TRows : struct, IGemvRows
    {
        ArrayView<float> partials = SharedMemory.Allocate<float>(MaxWarps * PartialFloats);
        int lane = Warp.LaneIdx, warp = Warp.WarpIdx;
        int w = shape.WarpsPerRow, unit = warp / w, slice = warp - unit * w;
        int row = Grid.IdxX * (Group.DimX / 32 / w) + unit;
        int t0 = Grid.IdxY * TokensPerWarp;
        int n = XMath.Min(TokensPerWarp, shape.Tokens - t0);
        bool pair = rows.Pair, normed = rows.Normed;
        int octets = shape.InDim / 8, xRow = shape.InDim / 4;
        // The unit's weight rows: o, o and o + outputs (SiLU), or pair i of a head's rows, i and i + d/2 (rotary).
        int half = shape.HeadDim / 2;
        int first = rows.Rotary ? row + row / half * half : row;
        int second = rows.Rotary ? first + half : row + shape.Outputs;

        Acc acc = default;
        if (row < shape.Outputs)
        {
            ArrayView<Bf16x8> w0 = weight.SubView((long)first * octets, octets);
            ArrayView<Bf16x8> w1 = weight.SubView((long)(pair ? second : first) * octets, octets);
            int stride = 32 * w;
            // Four 16-byte weight loads a lane in flight: four octets of the row, or two of each row of the pair. The
            // loads past the row are skipped, not zeroed: their activations would lie past the row too.
            if (pair)
            {
                for (int j = slice * 32 + lane; j < octets; j += 2 * stride)
                {
                    bool has1 = j + stride < octets;
                    Bf16x8 g0 = w0[j], u0 = w1[j], g1 = has1 ? w0[j + stride] : default, u1 = has1 ? w1[j + stride] : default;
                    int k = t0 * xRow + 2 * j;
                    acc = acc.Add(g0, u0, x, norm, k, 2 * j, xRow, n, pair: true, normed);
                    if (has1) acc = acc.Add(g1, u1, x, norm, k + 2 * stride, 2 * (j + stride), xRow, n, pair: true, normed);
                }
            }
            else
            {
                for (int j = slice * 32 + lane; j < octets; j += 4 * stride)
                {
                    bool has1 = j + stride < octets, has2 = j + 2 * stride < octets, has3 = j + 3 * stride < octets;
                    Bf16x8 a0 = w0[j], a1 = has1 ? w0[j + stride] : default, a2 = has2 ? w0[j + 2 * stride] : default, a3 = has3 ? w0[j + 3 * stride] : default;
                    int k = t0 * xRow + 2 * j;
                    acc = acc.Add(a0, default, x, norm, k, 2 * j, xRow, n, pair: false, normed);
                    if (has1) acc = acc.Add(a1, default, x, norm, k + 2 * stride, 2 * (j + stride), xRow, n, pair: false, normed);
                    if (has2) acc = acc.Add(a2, default, x, norm, k + 4 * stride, 2 * (j + 2 * stride), xRow, n, pair: false, normed);
                    if (has3) acc = acc.Add(a3, default, x, norm, k + 6 * stride, 2 * (j + 3 * stride), xRow, n, pair: false, normed);
                }
            }
        }

        // Every warp leaves its sums in shared memory (lane 0 holds them after the warp reductions)...
        int at = warp * PartialFloats;
        Park(partials, at, acc.Gate, lane);
        if (pair) Park(partials, at + 4, acc.Up, lane);
        if (normed) Park(partials, at + 8, acc.Squares, lane);
        Group.Barrier();
        // ... and lane t of the row's first warp finishes token t, adding the row's warps in order.
        if (slice != 0 || row >= shape.Outputs || lane >= n) return;
        float g = 0f, u = 0f, sq = 0f;
        for (int s = 0; s < w; s++)
        {
            int from = (warp + s) * PartialFloats + lane;
            g += partials[from];
            if (pair) u += partials[from + 4];
            if (normed) sq += partials[from + 8];
        }
        if (normed)
        {
            float inv = XMath.Rsqrt(sq / shape.InDim + shape.Eps);
            g *= inv;
            u *= inv;
        }
        if (shape.HasBias != 0)
        {
            g += bias[first];
            if (pair) u += bias[second];
        }
        if (rows.Rotary)
        {
            StoreRotated(rows, g, u, t0 + lane, row / half, row - row / half * half, first, shape, y, cos, sin, positions, slots, keys, values);
            return;
        }
        int o = (t0 + lane) * shape.Outputs + row;
        if (shape.Epilogue == (int)GemvEpilogue.Add) y[o] += g;
        else if (pair) y[o] = KernelMath.SiluMul(g, u);
        else y[o] = g;
    }

    /// <summary>
    /// Token <paramref name="t"/>'s pair <paramref name="i"/> of head <paramref name="head"/> (of the q, then k, then v
    /// heads), sums <paramref name="a"/> and <paramref name="b"/> for rows i and i + d/2: q and k rotated at the token's
    /// position as RopeKvKernel rotates them, written to y's q | k | v row, and k and v to the token's cache slot.
    /// </summary>
    private static void StoreRotated<TRows>(TRows rows, float a, float b, int t, int head, int i, int first, GemvShape shape, ArrayView<float> y,
        ArrayView<float> cos, ArrayView<float> sin, ArrayView<int> positions, ArrayView<int> slots, ArrayView<float> keys, ArrayView<float> values)
        where TRows : struct, IGemvRows
    {
        int d = shape.HeadDim, half = d / 2, heads = shape.Heads, kvHeads = shape.KvHeads;
        if (head < heads + kvHeads)
        {
            int angle = positions[t] * half + i;
            float c = cos[angle], s = sin[angle];
            float r1 = a * c - b * s, r2 = b * c + a * s;
            a = r1;
            b = r2;
        }
        int at = t * 2 * shape.Outputs + first;
        y[at] = a;
        y[at + half] = b;
        if (head < heads) return;
        bool key = head < heads + kvHeads;
        int kv = slots[t] * kvHeads * d + (head - heads - (key ? 0 : kvHeads)) * d + i;
        ArrayView<float> cache = key ? keys : values;
        rows.StoreKv(cache, kv, a);
        rows.StoreKv(cache, kv + half, b);
    }

    /// <summary>A lane's running sums: the row's (or with a pair, the gate row's) for up to four tokens, the up row's, and the tokens' squares.</summary>
    private readonly struct Acc(Sums gate, Sums up, Sums squares)
    {
        public readonly Sums Gate = gate, Up = up, Squares = squares;

        /// <summary>
        /// Adds eight weights of each row times each token's eight activations (times the norm's eight weights when
        /// normed, their squares to the token's sum of squares): <paramref name="k"/> is the Float4 index of the first
        /// activations of the warp's first token, <paramref name="nk"/> that of the norm weights, <paramref name="xRow"/>
        /// the Float4s of a row. Tokens past <paramref name="n"/> add zeros.
        /// </summary>
        public Acc Add(Bf16x8 a, Bf16x8 b, ArrayView<Float4> x, ArrayView<Float4> norm, int k, int nk, int xRow, int n, bool pair, bool normed)
        {
            var wa = new Weights8(a);
            Weights8 wb = pair ? new Weights8(b) : default;
            Float4 n0 = normed ? norm[nk] : default, n1 = normed ? norm[nk + 1] : default;
            Term c0 = Term.Of(wa, wb, x, k, n0, n1, pair, normed);
            Term c1 = n > 1 ? Term.Of(wa, wb, x, k + xRow, n0, n1, pair, normed) : default;
            Term c2 = n > 2 ? Term.Of(wa, wb, x, k + 2 * xRow, n0, n1, pair, normed) : default;
            Term c3 = n > 3 ? Term.Of(wa, wb, x, k + 3 * xRow, n0, n1, pair, normed) : default;
            return new Acc(
                new Sums(Gate.A0 + c0.Gate, Gate.A1 + c1.Gate, Gate.A2 + c2.Gate, Gate.A3 + c3.Gate),
                new Sums(Up.A0 + c0.Up, Up.A1 + c1.Up, Up.A2 + c2.Up, Up.A3 + c3.Up),
                new Sums(Squares.A0 + c0.Square, Squares.A1 + c1.Square, Squares.A2 + c2.Square, Squares.A3 + c3.Square));
        }
    }

    /// <summary>One token's share of eight octet weights: the dot products with each row, and the activations' squares.</summary>
    private readonly struct Term(float gate, float up, float square)
    {
        public readonly float Gate = gate, Up = up, Square = square;

        public static Term Of(Weights8 wa, Weights8 wb, ArrayView<Float4> x, int k, Float4 n0, Float4 n1, bool pair, bool normed)
        {
            Float4 x0 = x[k], x1 = x[k + 1];
            float square = 0f;
            if (normed)
            {
                square = Square(x0) + Square(x1);
                x0 = Scale(x0, n0);
                x1 = Scale(x1, n1);
            }
            return new Term(wa.Dot(x0, x1), pair ? wb.Dot(x0, x1) : 0f, square);
        }
    }

    private static float Square(Float4 v) => v.A * v.A + v.B * v.B + v.C * v.C + v.D * v.D;

    private static Float4 Scale(Float4 v, Float4 s) => new() { A = v.A * s.A, B = v.B * s.B, C = v.C * s.C, D = v.D * s.D };

    /// <summary>Reduces a lane's four sums over the warp and has lane 0 store them at <paramref name="at"/>.</summary>
    private static void Park(ArrayView<float> partials, int at, Sums sums, int lane)
    {
        float a0 = KernelMath.WarpSum(sums.A0), a1 = KernelMath.WarpSum(sums.A1), a2 = KernelMath.WarpSum(sums.A2), a3 = KernelMath.WarpSum(sums.A3);
        if (lane != 0) return;
        partials[at] = a0;
        partials[at + 1] = a1;
        partials[at + 2] = a2;
        partials[at + 3] = a3;
    }

    /// <summary>A lane's running sums for up to four tokens.</summary>
    private readonly struct Sums(float a0, float a1, float a2, float a3)
    {
        public readonly float A0 = a0, A1 = a1, A2 = a2, A3 = a3;
    }

    /// <summary>Eight weights widened to float32.</summary>
    private readonly struct Weights8(Bf16x8 pack)
    {
        private readonly float _w0 = KernelMath.Bf16((uint)(pack.Low & 0xFFFF)), _w1 = KernelMath.Bf16((uint)((pack.Low >> 16) & 0xFFFF));
        private readonly float _w2 = KernelMath.Bf16((uint)((pack.Low >> 32) & 0xFFFF)), _w3 = KernelMath.Bf16((uint)(pack.Low >> 48));
        private readonly float _w4 = KernelMath.Bf16((uint)(pack.High & 0xFFFF)), _w5 = KernelMath.Bf16((uint)((pack.High >> 16) & 0xFFFF));
        private readonly float _w6 = KernelMath.Bf16((uint)((pack.High >> 32) & 0xFFFF)), _w7 = KernelMath.Bf16((uint)(pack.High >> 48));

        public float Dot(Float4 first, Float4 second) =>
            _w0 * first.A + _w1 * first.B + _w2 * first.C + _w3 * first.D + _w4 * second.A + _w5 * second.B + _w6 * second.C + _w7 * second.D;
    }
}

/// <summary>
/// Where a <see cref="GemvEpilogue.RotaryPairs"/> GEMV takes its angles and puts its keys and values: the rotary tables
/// [positions, d/2], each token's position and cache slot, one layer's key and value caches (slots x kvHeads x d
/// elements, in the rows' <see cref="IKvFormat"/>), and the heads of q | k | v.
/// </summary>
internal readonly record struct GemvKvTarget(ArrayView<float> Cos, ArrayView<float> Sin, ArrayView<int> Positions, ArrayView<int> Slots,
    ArrayView<float> Keys, ArrayView<float> Values, int HeadDim, int Heads, int KvHeads);

/// <summary>
/// One GEMV launch's sizes and modes (<see cref="LinearKernel"/>): y [tokens, outputs] from x [tokens, inDim];
/// the weight has outputs rows, or 2 x outputs with <see cref="GemvEpilogue.SiluPair"/>; with
/// <see cref="GemvEpilogue.RotaryPairs"/> the outputs are row pairs of heads of <see cref="HeadDim"/>, y and the weight 2 x outputs wide.
/// </summary>
internal struct GemvShape
{
    public int Tokens, InDim, Outputs, WarpsPerRow, HasBias, Epilogue;
    public float Eps;
    public int HeadDim, Heads, KvHeads;

    /// <summary>
    /// The launch for y [tokens, outputs] on a card of <paramref name="multiprocessors"/> SMs holding
    /// <paramref name="groupsPerMultiprocessor"/> groups of <paramref name="groupSize"/> threads each: every row split
    /// over as many warps (1, 2, 4 or 8, at most a group's) as keep the grid to one wave, so a decode step's small
    /// projections spread over the whole card, but no more than leave each warp 24 of the row's octets (a short row
    /// split further only idles lanes).
    /// </summary>
    public static (KernelConfig Config, GemvShape Shape) Plan(int tokens, int inDim, int outputs, GemvEpilogue epilogue, bool hasBias,
        float eps, int multiprocessors, int groupsPerMultiprocessor, int groupSize)
    {
        int blocks = (tokens + LinearKernel.TokensPerWarp - 1) / LinearKernel.TokensPerWarp, groupWarps = groupSize / 32, octets = inDim / 8;
        long units = (long)outputs * blocks, slots = (long)groupsPerMultiprocessor * multiprocessors;
        long Groups(int warpsPerRow) => (units + groupWarps / warpsPerRow - 1) / (groupWarps / warpsPerRow);
        int w = 1;
        while (2 * w <= groupWarps && octets >= 24 * 2 * w && Groups(2 * w) <= slots) w *= 2;
        int rowsPerGroup = groupWarps / w;
        var config = new KernelConfig(new Index2D((outputs + rowsPerGroup - 1) / rowsPerGroup, blocks), new Index2D(groupSize, 1));
        return (config, new GemvShape
        {
            Tokens = tokens, InDim = inDim, Outputs = outputs, WarpsPerRow = w, HasBias = hasBias ? 1 : 0, Epilogue = (int)epilogue, Eps = eps,
        });
    }
}
