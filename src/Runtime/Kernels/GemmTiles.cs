using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Specialized.Kernels;

/// <summary>
/// A warp's 64 x 64 block of a <see cref="TensorCoreGemmKernel"/> tile (4 x 8 MMA tiles of 16 x 8), and the
/// instructions that feed it: <see cref="PtxGemmTile"/> on CUDA, <see cref="EmulatedGemmTile"/> on ILGPU's CPU
/// accelerator, which does the same copies, matrix loads and MMAs on the same shared-memory layout through views.
/// Methods return the updated tile (the emulation's accumulators are values; the instruction's live in PTX registers).
/// </summary>
internal interface IGemmTile<TSelf> where TSelf : struct, IGemmTile<TSelf>
{
    /// <summary>Words of the group's shared scratch a thread needs (the emulation's MMA and ldmatrix), none on CUDA.</summary>
    int ExchangeWords { get; }

    /// <summary>The zero tile. Called once, first thing in the kernel: on CUDA it declares the accumulators.</summary>
    TSelf Zero();

    /// <summary>
    /// Copies 16 bytes, <paramref name="source"/>[<paramref name="index"/>], into chunk <paramref name="chunk"/> of the
    /// kernel's dynamic shared memory <paramref name="tiles"/>; on CUDA without waiting (<c>cp.async.cg</c>), read from
    /// <paramref name="sourceAddress"/>, the view's device address. Complete after <see cref="Commit"/>, <see cref="Wait"/>
    /// and a barrier.
    /// </summary>
    void Copy(ArrayView<Bf16x8> tiles, int chunk, ArrayView<Bf16x8> source, long sourceAddress, int index);

    /// <summary>The copies issued since the last commit form a group (<c>cp.async.commit_group</c>).</summary>
    void Commit();

    /// <summary>Waits until at most <paramref name="pending"/> (a constant, 0 to 3) of this thread's groups are in flight.</summary>
    void Wait(int pending);

    /// <summary>
    /// Adds the 32-deep slice staged at chunk <paramref name="stage"/>: this lane's ldmatrix rows are
    /// <paramref name="at"/>'s chunks, A's hi term first and its lo term (with two terms) one operand further.
    /// </summary>
    TSelf Add(ArrayView<Bf16x8> tiles, int stage, GemmFragmentChunks at, int terms, ArrayView<uint> exchange);

    /// <summary>C fragment <paramref name="index"/> (16-row block index / 8, 8-wide tile index % 8).</summary>
    CFragment Fragment(int index);
}

/// <summary>
/// The chunks a lane names to ldmatrix in stage 0: A's first 16-row block at k16 steps 0 and 1, and B's first 8-wide
/// tile (after the activations' terms, <paramref name="termChunks"/> each: 512 for 128 rows, 1,024 for 256).
/// </summary>
internal readonly struct GemmFragmentChunks(int a0, int a1, int b, int termChunks)
{
    public readonly int A0 = a0, A1 = a1, B = b;

    /// <summary>Chunks between the hi and the lo term of A: one term's slice.</summary>
    public readonly int TermChunks = termChunks;

    /// <summary>Chunks between the A fragments of two 16-row blocks (16 rows of 4 chunks).</summary>
    public const int BlockChunks = 64;

    /// <summary>Chunks between two 8-wide B tiles (8 rows).</summary>
    public const int TileChunks = 32;
}

/// <summary>
/// The tile on CUDA. The accumulators are PTX registers the kernel declares by name (<c>gemm_c0</c>..<c>gemm_c127</c>),
/// and a whole slice — ldmatrix of the B tiles, then for each term, 16-row block and k16 step an A fragment and eight
/// MMAs — is one inline-PTX statement whose operands are three shared-memory offsets, passed by value. Nothing goes
/// through local memory: ILGPU passes an inline statement's outputs (and with <c>EmitRef</c> its inputs) through
/// local-memory slots, which ptxas promotes to registers only while the kernel has no <c>cp.async</c> (ptxas 11.8 and
/// 12.8: with it, the kernel kept a 3 KB stack frame and 1,400 local loads and stores). Only the epilogue reads the
/// accumulators out that way, once.
/// <para>
/// The shared addresses are offsets from the dynamic shared memory, which ILGPU declares as one module-wide
/// <c>.extern .shared</c> array named <c>__dyn_shared_alloca</c> (PTXCodeGenerator.DynamicSharedMemoryAllocationName)
/// in every kernel that uses it: a kernel cannot take the address from its view.
/// </para>
/// </summary>
internal readonly struct PtxGemmTile : IGemmTile<PtxGemmTile>
{
    public int ExchangeWords => 0;

    public PtxGemmTile Zero()
    {
        CudaAsm.Emit(Declare);
        return this;
    }

    public void Copy(ArrayView<Bf16x8> tiles, int chunk, ArrayView<Bf16x8> source, long sourceAddress, int index) =>
        CudaAsm.Emit(
            "{ .reg .u32 s; mov.u32 s, __dyn_shared_alloca; add.u32 s, s, %0; cp.async.cg.shared.global [s], [%1], 16; }",
            16u * (uint)chunk, sourceAddress + 16L * index);

    public void Commit() => CudaAsm.Emit("cp.async.commit_group;");

    public void Wait(int pending)
    {
        // The count is an immediate: one string per value (pending is a constant, so ILGPU keeps one of them).
        switch (pending)
        {
            case 0: CudaAsm.Emit("cp.async.wait_group 0;"); break;
            case 1: CudaAsm.Emit("cp.async.wait_group 1;"); break;
            case 2: CudaAsm.Emit("cp.async.wait_group 2;"); break;
            default: CudaAsm.Emit("cp.async.wait_group 3;"); break;
        }
    }

    public PtxGemmTile Add(ArrayView<Bf16x8> tiles, int stage, GemmFragmentChunks at, int terms, ArrayView<uint> exchange)
    {
        uint b = 16u * (uint)(stage + terms * at.TermChunks + at.B), a0 = 16u * (uint)(stage + at.A0), a1 = 16u * (uint)(stage + at.A1);
        // The lo term's offset is an immediate: one string per term size (a constant where the kernel calls this).
        if (terms == 1) CudaAsm.Emit(RoundedSlice, b, a0, a1);
        else if (at.TermChunks == 512) CudaAsm.Emit(SplitSlice, b, a0, a1);
        else CudaAsm.Emit(SplitSliceTall, b, a0, a1);
        return this;
    }

    public CFragment Fragment(int index)
    {
        // A literal per fragment (inline PTX must be one at the call): index is a constant where the kernel calls this.
        Output<float> c0 = default, c1 = default, c2 = default, c3 = default;
        switch (index)
        {
            case 0: CudaAsm.EmitRef("mov.b32 %0, gemm_c0; mov.b32 %1, gemm_c1; mov.b32 %2, gemm_c2; mov.b32 %3, gemm_c3;", ref c0, ref c1, ref c2, ref c3); break;
            case 1: CudaAsm.EmitRef("mov.b32 %0, gemm_c4; mov.b32 %1, gemm_c5; mov.b32 %2, gemm_c6; mov.b32 %3, gemm_c7;", ref c0, ref c1, ref c2, ref c3); break;
            case 2: CudaAsm.EmitRef("mov.b32 %0, gemm_c8; mov.b32 %1, gemm_c9; mov.b32 %2, gemm_c10; mov.b32 %3, gemm_c11;", ref c0, ref c1, ref c2, ref c3); break;
            case 3: CudaAsm.EmitRef("mov.b32 %0, gemm_c12; mov.b32 %1, gemm_c13; mov.b32 %2, gemm_c14; mov.b32 %3, gemm_c15;", ref c0, ref c1, ref c2, ref c3); break;
            case 4: CudaAsm.EmitRef("mov.b32 %0, gemm_c16; mov.b32 %1, gemm_c17; mov.b32 %2, gemm_c18; mov.b32 %3, gemm_c19;", ref c0, ref c1, ref c2, ref c3); break;
            case 5: CudaAsm.EmitRef("mov.b32 %0, gemm_c20; mov.b32 %1, gemm_c21; mov.b32 %2, gemm_c22; mov.b32 %3, gemm_c23;", ref c0, ref c1, ref c2, ref c3); break;
            case 6: CudaAsm.EmitRef("mov.b32 %0, gemm_c24; mov.b32 %1, gemm_c25; mov.b32 %2, gemm_c26; mov.b32 %3, gemm_c27;", ref c0, ref c1, ref c2, ref c3); break;
            case 7: CudaAsm.EmitRef("mov.b32 %0, gemm_c28; mov.b32 %1, gemm_c29; mov.b32 %2, gemm_c30; mov.b32 %3, gemm_c31;", ref c0, ref c1, ref c2, ref c3); break;
            case 8: CudaAsm.EmitRef("mov.b32 %0, gemm_c32; mov.b32 %1, gemm_c33; mov.b32 %2, gemm_c34; mov.b32 %3, gemm_c35;", ref c0, ref c1, ref c2, ref c3); break;
            case 9: CudaAsm.EmitRef("mov.b32 %0, gemm_c36; mov.b32 %1, gemm_c37; mov.b32 %2, gemm_c38; mov.b32 %3, gemm_c39;", ref c0, ref c1, ref c2, ref c3); break;
            case 10: CudaAsm.EmitRef("mov.b32 %0, gemm_c40; mov.b32 %1, gemm_c41; mov.b32 %2, gemm_c42; mov.b32 %3, gemm_c43;", ref c0, ref c1, ref c2, ref c3); break;
            case 11: CudaAsm.EmitRef("mov.b32 %0, gemm_c44; mov.b32 %1, gemm_c45; mov.b32 %2, gemm_c46; mov.b32 %3, gemm_c47;", ref c0, ref c1, ref c2, ref c3); break;
            case 12: CudaAsm.EmitRef("mov.b32 %0, gemm_c48; mov.b32 %1, gemm_c49; mov.b32 %2, gemm_c50; mov.b32 %3, gemm_c51;", ref c0, ref c1, ref c2, ref c3); break;
            case 13: CudaAsm.EmitRef("mov.b32 %0, gemm_c52; mov.b32 %1, gemm_c53; mov.b32 %2, gemm_c54; mov.b32 %3, gemm_c55;", ref c0, ref c1, ref c2, ref c3); break;
            case 14: CudaAsm.EmitRef("mov.b32 %0, gemm_c56; mov.b32 %1, gemm_c57; mov.b32 %2, gemm_c58; mov.b32 %3, gemm_c59;", ref c0, ref c1, ref c2, ref c3); break;
            case 15: CudaAsm.EmitRef("mov.b32 %0, gemm_c60; mov.b32 %1, gemm_c61; mov.b32 %2, gemm_c62; mov.b32 %3, gemm_c63;", ref c0, ref c1, ref c2, ref c3); break;
            case 16: CudaAsm.EmitRef("mov.b32 %0, gemm_c64; mov.b32 %1, gemm_c65; mov.b32 %2, gemm_c66; mov.b32 %3, gemm_c67;", ref c0, ref c1, ref c2, ref c3); break;
            case 17: CudaAsm.EmitRef("mov.b32 %0, gemm_c68; mov.b32 %1, gemm_c69; mov.b32 %2, gemm_c70; mov.b32 %3, gemm_c71;", ref c0, ref c1, ref c2, ref c3); break;
            case 18: CudaAsm.EmitRef("mov.b32 %0, gemm_c72; mov.b32 %1, gemm_c73; mov.b32 %2, gemm_c74; mov.b32 %3, gemm_c75;", ref c0, ref c1, ref c2, ref c3); break;
            case 19: CudaAsm.EmitRef("mov.b32 %0, gemm_c76; mov.b32 %1, gemm_c77; mov.b32 %2, gemm_c78; mov.b32 %3, gemm_c79;", ref c0, ref c1, ref c2, ref c3); break;
            case 20: CudaAsm.EmitRef("mov.b32 %0, gemm_c80; mov.b32 %1, gemm_c81; mov.b32 %2, gemm_c82; mov.b32 %3, gemm_c83;", ref c0, ref c1, ref c2, ref c3); break;
            case 21: CudaAsm.EmitRef("mov.b32 %0, gemm_c84; mov.b32 %1, gemm_c85; mov.b32 %2, gemm_c86; mov.b32 %3, gemm_c87;", ref c0, ref c1, ref c2, ref c3); break;
            case 22: CudaAsm.EmitRef("mov.b32 %0, gemm_c88; mov.b32 %1, gemm_c89; mov.b32 %2, gemm_c90; mov.b32 %3, gemm_c91;", ref c0, ref c1, ref c2, ref c3); break;
            case 23: CudaAsm.EmitRef("mov.b32 %0, gemm_c92; mov.b32 %1, gemm_c93; mov.b32 %2, gemm_c94; mov.b32 %3, gemm_c95;", ref c0, ref c1, ref c2, ref c3); break;
            case 24: CudaAsm.EmitRef("mov.b32 %0, gemm_c96; mov.b32 %1, gemm_c97; mov.b32 %2, gemm_c98; mov.b32 %3, gemm_c99;", ref c0, ref c1, ref c2, ref c3); break;
            case 25: CudaAsm.EmitRef("mov.b32 %0, gemm_c100; mov.b32 %1, gemm_c101; mov.b32 %2, gemm_c102; mov.b32 %3, gemm_c103;", ref c0, ref c1, ref c2, ref c3); break;
            case 26: CudaAsm.EmitRef("mov.b32 %0, gemm_c104; mov.b32 %1, gemm_c105; mov.b32 %2, gemm_c106; mov.b32 %3, gemm_c107;", ref c0, ref c1, ref c2, ref c3); break;
            case 27: CudaAsm.EmitRef("mov.b32 %0, gemm_c108; mov.b32 %1, gemm_c109; mov.b32 %2, gemm_c110; mov.b32 %3, gemm_c111;", ref c0, ref c1, ref c2, ref c3); break;
            case 28: CudaAsm.EmitRef("mov.b32 %0, gemm_c112; mov.b32 %1, gemm_c113; mov.b32 %2, gemm_c114; mov.b32 %3, gemm_c115;", ref c0, ref c1, ref c2, ref c3); break;
            case 29: CudaAsm.EmitRef("mov.b32 %0, gemm_c116; mov.b32 %1, gemm_c117; mov.b32 %2, gemm_c118; mov.b32 %3, gemm_c119;", ref c0, ref c1, ref c2, ref c3); break;
            case 30: CudaAsm.EmitRef("mov.b32 %0, gemm_c120; mov.b32 %1, gemm_c121; mov.b32 %2, gemm_c122; mov.b32 %3, gemm_c123;", ref c0, ref c1, ref c2, ref c3); break;
            case 31: CudaAsm.EmitRef("mov.b32 %0, gemm_c124; mov.b32 %1, gemm_c125; mov.b32 %2, gemm_c126; mov.b32 %3, gemm_c127;", ref c0, ref c1, ref c2, ref c3); break;
        }
        return new CFragment(c0.Value, c1.Value, c2.Value, c3.Value);
    }

    /// <summary>The accumulators, zeroed: fragment t is gemm_c4t..gemm_c4t+3 (C0..C3), t = 8 · block + tile.</summary>
    private const string Declare = """
        .reg .f32 gemm_c<128>;
        mov.b32 gemm_c0, 0f00000000; mov.b32 gemm_c1, 0f00000000; mov.b32 gemm_c2, 0f00000000; mov.b32 gemm_c3, 0f00000000; mov.b32 gemm_c4, 0f00000000; mov.b32 gemm_c5, 0f00000000; mov.b32 gemm_c6, 0f00000000; mov.b32 gemm_c7, 0f00000000;
        mov.b32 gemm_c8, 0f00000000; mov.b32 gemm_c9, 0f00000000; mov.b32 gemm_c10, 0f00000000; mov.b32 gemm_c11, 0f00000000; mov.b32 gemm_c12, 0f00000000; mov.b32 gemm_c13, 0f00000000; mov.b32 gemm_c14, 0f00000000; mov.b32 gemm_c15, 0f00000000;
        mov.b32 gemm_c16, 0f00000000; mov.b32 gemm_c17, 0f00000000; mov.b32 gemm_c18, 0f00000000; mov.b32 gemm_c19, 0f00000000; mov.b32 gemm_c20, 0f00000000; mov.b32 gemm_c21, 0f00000000; mov.b32 gemm_c22, 0f00000000; mov.b32 gemm_c23, 0f00000000;
        mov.b32 gemm_c24, 0f00000000; mov.b32 gemm_c25, 0f00000000; mov.b32 gemm_c26, 0f00000000; mov.b32 gemm_c27, 0f00000000; mov.b32 gemm_c28, 0f00000000; mov.b32 gemm_c29, 0f00000000; mov.b32 gemm_c30, 0f00000000; mov.b32 gemm_c31, 0f00000000;
        mov.b32 gemm_c32, 0f00000000; mov.b32 gemm_c33, 0f00000000; mov.b32 gemm_c34, 0f00000000; mov.b32 gemm_c35, 0f00000000; mov.b32 gemm_c36, 0f00000000; mov.b32 gemm_c37, 0f00000000; mov.b32 gemm_c38, 0f00000000; mov.b32 gemm_c39, 0f00000000;
        mov.b32 gemm_c40, 0f00000000; mov.b32 gemm_c41, 0f00000000; mov.b32 gemm_c42, 0f00000000; mov.b32 gemm_c43, 0f00000000; mov.b32 gemm_c44, 0f00000000; mov.b32 gemm_c45, 0f00000000; mov.b32 gemm_c46, 0f00000000; mov.b32 gemm_c47, 0f00000000;
        mov.b32 gemm_c48, 0f00000000; mov.b32 gemm_c49, 0f00000000; mov.b32 gemm_c50, 0f00000000; mov.b32 gemm_c51, 0f00000000; mov.b32 gemm_c52, 0f00000000; mov.b32 gemm_c53, 0f00000000; mov.b32 gemm_c54, 0f00000000; mov.b32 gemm_c55, 0f00000000;
        mov.b32 gemm_c56, 0f00000000; mov.b32 gemm_c57, 0f00000000; mov.b32 gemm_c58, 0f00000000; mov.b32 gemm_c59, 0f00000000; mov.b32 gemm_c60, 0f00000000; mov.b32 gemm_c61, 0f00000000; mov.b32 gemm_c62, 0f00000000; mov.b32 gemm_c63, 0f00000000;
        mov.b32 gemm_c64, 0f00000000; mov.b32 gemm_c65, 0f00000000; mov.b32 gemm_c66, 0f00000000; mov.b32 gemm_c67, 0f00000000; mov.b32 gemm_c68, 0f00000000; mov.b32 gemm_c69, 0f00000000; mov.b32 gemm_c70, 0f00000000; mov.b32 gemm_c71, 0f00000000;
        mov.b32 gemm_c72, 0f00000000; mov.b32 gemm_c73, 0f00000000; mov.b32 gemm_c74, 0f00000000; mov.b32 gemm_c75, 0f00000000; mov.b32 gemm_c76, 0f00000000; mov.b32 gemm_c77, 0f00000000; mov.b32 gemm_c78, 0f00000000; mov.b32 gemm_c79, 0f00000000;
        mov.b32 gemm_c80, 0f00000000; mov.b32 gemm_c81, 0f00000000; mov.b32 gemm_c82, 0f00000000; mov.b32 gemm_c83, 0f00000000; mov.b32 gemm_c84, 0f00000000; mov.b32 gemm_c85, 0f00000000; mov.b32 gemm_c86, 0f00000000; mov.b32 gemm_c87, 0f00000000;
        mov.b32 gemm_c88, 0f00000000; mov.b32 gemm_c89, 0f00000000; mov.b32 gemm_c90, 0f00000000; mov.b32 gemm_c91, 0f00000000; mov.b32 gemm_c92, 0f00000000; mov.b32 gemm_c93, 0f00000000; mov.b32 gemm_c94, 0f00000000; mov.b32 gemm_c95, 0f00000000;
        mov.b32 gemm_c96, 0f00000000; mov.b32 gemm_c97, 0f00000000; mov.b32 gemm_c98, 0f00000000; mov.b32 gemm_c99, 0f00000000; mov.b32 gemm_c100, 0f00000000; mov.b32 gemm_c101, 0f00000000; mov.b32 gemm_c102, 0f00000000; mov.b32 gemm_c103, 0f00000000;
        mov.b32 gemm_c104, 0f00000000; mov.b32 gemm_c105, 0f00000000; mov.b32 gemm_c106, 0f00000000; mov.b32 gemm_c107, 0f00000000; mov.b32 gemm_c108, 0f00000000; mov.b32 gemm_c109, 0f00000000; mov.b32 gemm_c110, 0f00000000; mov.b32 gemm_c111, 0f00000000;
        mov.b32 gemm_c112, 0f00000000; mov.b32 gemm_c113, 0f00000000; mov.b32 gemm_c114, 0f00000000; mov.b32 gemm_c115, 0f00000000; mov.b32 gemm_c116, 0f00000000; mov.b32 gemm_c117, 0f00000000; mov.b32 gemm_c118, 0f00000000; mov.b32 gemm_c119, 0f00000000;
        mov.b32 gemm_c120, 0f00000000; mov.b32 gemm_c121, 0f00000000; mov.b32 gemm_c122, 0f00000000; mov.b32 gemm_c123, 0f00000000; mov.b32 gemm_c124, 0f00000000; mov.b32 gemm_c125, 0f00000000; mov.b32 gemm_c126, 0f00000000; mov.b32 gemm_c127, 0f00000000;
        """;

    // A slice: SliceStart, then Term once per term, then "}". %0: B's first tile for this lane (matrix i = k chunk i, so
    // b4n..b4n+3 are tile n's fragments for steps 0 and 1); %1, %2: A's first block at steps 0 and 1 (sa0, sa1). Blocks
    // are 1,024 bytes apart, B tiles 512; the lo term's A is one term's slice (8,192 or 16,384 bytes) after the hi term's.

    /// <summary>The slice's registers, its base addresses and the B fragments (8 ldmatrix), which every term shares.</summary>
    private const string SliceStart = """
        { .reg .u32 sb, sa0, sa1; .reg .b32 b<32>, a<4>;
        mov.u32 sb, __dyn_shared_alloca; add.u32 sa0, sb, %1; add.u32 sa1, sb, %2; add.u32 sb, sb, %0;
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b0, b1, b2, b3}, [sb+0];
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b4, b5, b6, b7}, [sb+512];
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b8, b9, b10, b11}, [sb+1024];
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b12, b13, b14, b15}, [sb+1536];
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b16, b17, b18, b19}, [sb+2048];
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b20, b21, b22, b23}, [sb+2560];
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b24, b25, b26, b27}, [sb+3072];
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {b28, b29, b30, b31}, [sb+3584];
        """;

    /// <summary>One term: for each 16-row block and k16 step, A's fragment (ldmatrix at sa0 / sa1) and 8 MMAs; 64 in all.</summary>
    private const string Term = """
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa0+0];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c0, gemm_c1, gemm_c2, gemm_c3}, {a0, a1, a2, a3}, {b0, b1}, {gemm_c0, gemm_c1, gemm_c2, gemm_c3};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c4, gemm_c5, gemm_c6, gemm_c7}, {a0, a1, a2, a3}, {b4, b5}, {gemm_c4, gemm_c5, gemm_c6, gemm_c7};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c8, gemm_c9, gemm_c10, gemm_c11}, {a0, a1, a2, a3}, {b8, b9}, {gemm_c8, gemm_c9, gemm_c10, gemm_c11};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c12, gemm_c13, gemm_c14, gemm_c15}, {a0, a1, a2, a3}, {b12, b13}, {gemm_c12, gemm_c13, gemm_c14, gemm_c15};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c16, gemm_c17, gemm_c18, gemm_c19}, {a0, a1, a2, a3}, {b16, b17}, {gemm_c16, gemm_c17, gemm_c18, gemm_c19};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c20, gemm_c21, gemm_c22, gemm_c23}, {a0, a1, a2, a3}, {b20, b21}, {gemm_c20, gemm_c21, gemm_c22, gemm_c23};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c24, gemm_c25, gemm_c26, gemm_c27}, {a0, a1, a2, a3}, {b24, b25}, {gemm_c24, gemm_c25, gemm_c26, gemm_c27};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c28, gemm_c29, gemm_c30, gemm_c31}, {a0, a1, a2, a3}, {b28, b29}, {gemm_c28, gemm_c29, gemm_c30, gemm_c31};
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa1+0];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c0, gemm_c1, gemm_c2, gemm_c3}, {a0, a1, a2, a3}, {b2, b3}, {gemm_c0, gemm_c1, gemm_c2, gemm_c3};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c4, gemm_c5, gemm_c6, gemm_c7}, {a0, a1, a2, a3}, {b6, b7}, {gemm_c4, gemm_c5, gemm_c6, gemm_c7};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c8, gemm_c9, gemm_c10, gemm_c11}, {a0, a1, a2, a3}, {b10, b11}, {gemm_c8, gemm_c9, gemm_c10, gemm_c11};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c12, gemm_c13, gemm_c14, gemm_c15}, {a0, a1, a2, a3}, {b14, b15}, {gemm_c12, gemm_c13, gemm_c14, gemm_c15};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c16, gemm_c17, gemm_c18, gemm_c19}, {a0, a1, a2, a3}, {b18, b19}, {gemm_c16, gemm_c17, gemm_c18, gemm_c19};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c20, gemm_c21, gemm_c22, gemm_c23}, {a0, a1, a2, a3}, {b22, b23}, {gemm_c20, gemm_c21, gemm_c22, gemm_c23};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c24, gemm_c25, gemm_c26, gemm_c27}, {a0, a1, a2, a3}, {b26, b27}, {gemm_c24, gemm_c25, gemm_c26, gemm_c27};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c28, gemm_c29, gemm_c30, gemm_c31}, {a0, a1, a2, a3}, {b30, b31}, {gemm_c28, gemm_c29, gemm_c30, gemm_c31};
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa0+1024];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c32, gemm_c33, gemm_c34, gemm_c35}, {a0, a1, a2, a3}, {b0, b1}, {gemm_c32, gemm_c33, gemm_c34, gemm_c35};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c36, gemm_c37, gemm_c38, gemm_c39}, {a0, a1, a2, a3}, {b4, b5}, {gemm_c36, gemm_c37, gemm_c38, gemm_c39};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c40, gemm_c41, gemm_c42, gemm_c43}, {a0, a1, a2, a3}, {b8, b9}, {gemm_c40, gemm_c41, gemm_c42, gemm_c43};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c44, gemm_c45, gemm_c46, gemm_c47}, {a0, a1, a2, a3}, {b12, b13}, {gemm_c44, gemm_c45, gemm_c46, gemm_c47};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c48, gemm_c49, gemm_c50, gemm_c51}, {a0, a1, a2, a3}, {b16, b17}, {gemm_c48, gemm_c49, gemm_c50, gemm_c51};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c52, gemm_c53, gemm_c54, gemm_c55}, {a0, a1, a2, a3}, {b20, b21}, {gemm_c52, gemm_c53, gemm_c54, gemm_c55};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c56, gemm_c57, gemm_c58, gemm_c59}, {a0, a1, a2, a3}, {b24, b25}, {gemm_c56, gemm_c57, gemm_c58, gemm_c59};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c60, gemm_c61, gemm_c62, gemm_c63}, {a0, a1, a2, a3}, {b28, b29}, {gemm_c60, gemm_c61, gemm_c62, gemm_c63};
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa1+1024];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c32, gemm_c33, gemm_c34, gemm_c35}, {a0, a1, a2, a3}, {b2, b3}, {gemm_c32, gemm_c33, gemm_c34, gemm_c35};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c36, gemm_c37, gemm_c38, gemm_c39}, {a0, a1, a2, a3}, {b6, b7}, {gemm_c36, gemm_c37, gemm_c38, gemm_c39};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c40, gemm_c41, gemm_c42, gemm_c43}, {a0, a1, a2, a3}, {b10, b11}, {gemm_c40, gemm_c41, gemm_c42, gemm_c43};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c44, gemm_c45, gemm_c46, gemm_c47}, {a0, a1, a2, a3}, {b14, b15}, {gemm_c44, gemm_c45, gemm_c46, gemm_c47};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c48, gemm_c49, gemm_c50, gemm_c51}, {a0, a1, a2, a3}, {b18, b19}, {gemm_c48, gemm_c49, gemm_c50, gemm_c51};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c52, gemm_c53, gemm_c54, gemm_c55}, {a0, a1, a2, a3}, {b22, b23}, {gemm_c52, gemm_c53, gemm_c54, gemm_c55};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c56, gemm_c57, gemm_c58, gemm_c59}, {a0, a1, a2, a3}, {b26, b27}, {gemm_c56, gemm_c57, gemm_c58, gemm_c59};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c60, gemm_c61, gemm_c62, gemm_c63}, {a0, a1, a2, a3}, {b30, b31}, {gemm_c60, gemm_c61, gemm_c62, gemm_c63};
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa0+2048];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c64, gemm_c65, gemm_c66, gemm_c67}, {a0, a1, a2, a3}, {b0, b1}, {gemm_c64, gemm_c65, gemm_c66, gemm_c67};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c68, gemm_c69, gemm_c70, gemm_c71}, {a0, a1, a2, a3}, {b4, b5}, {gemm_c68, gemm_c69, gemm_c70, gemm_c71};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c72, gemm_c73, gemm_c74, gemm_c75}, {a0, a1, a2, a3}, {b8, b9}, {gemm_c72, gemm_c73, gemm_c74, gemm_c75};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c76, gemm_c77, gemm_c78, gemm_c79}, {a0, a1, a2, a3}, {b12, b13}, {gemm_c76, gemm_c77, gemm_c78, gemm_c79};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c80, gemm_c81, gemm_c82, gemm_c83}, {a0, a1, a2, a3}, {b16, b17}, {gemm_c80, gemm_c81, gemm_c82, gemm_c83};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c84, gemm_c85, gemm_c86, gemm_c87}, {a0, a1, a2, a3}, {b20, b21}, {gemm_c84, gemm_c85, gemm_c86, gemm_c87};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c88, gemm_c89, gemm_c90, gemm_c91}, {a0, a1, a2, a3}, {b24, b25}, {gemm_c88, gemm_c89, gemm_c90, gemm_c91};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c92, gemm_c93, gemm_c94, gemm_c95}, {a0, a1, a2, a3}, {b28, b29}, {gemm_c92, gemm_c93, gemm_c94, gemm_c95};
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa1+2048];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c64, gemm_c65, gemm_c66, gemm_c67}, {a0, a1, a2, a3}, {b2, b3}, {gemm_c64, gemm_c65, gemm_c66, gemm_c67};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c68, gemm_c69, gemm_c70, gemm_c71}, {a0, a1, a2, a3}, {b6, b7}, {gemm_c68, gemm_c69, gemm_c70, gemm_c71};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c72, gemm_c73, gemm_c74, gemm_c75}, {a0, a1, a2, a3}, {b10, b11}, {gemm_c72, gemm_c73, gemm_c74, gemm_c75};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c76, gemm_c77, gemm_c78, gemm_c79}, {a0, a1, a2, a3}, {b14, b15}, {gemm_c76, gemm_c77, gemm_c78, gemm_c79};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c80, gemm_c81, gemm_c82, gemm_c83}, {a0, a1, a2, a3}, {b18, b19}, {gemm_c80, gemm_c81, gemm_c82, gemm_c83};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c84, gemm_c85, gemm_c86, gemm_c87}, {a0, a1, a2, a3}, {b22, b23}, {gemm_c84, gemm_c85, gemm_c86, gemm_c87};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c88, gemm_c89, gemm_c90, gemm_c91}, {a0, a1, a2, a3}, {b26, b27}, {gemm_c88, gemm_c89, gemm_c90, gemm_c91};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c92, gemm_c93, gemm_c94, gemm_c95}, {a0, a1, a2, a3}, {b30, b31}, {gemm_c92, gemm_c93, gemm_c94, gemm_c95};
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa0+3072];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c96, gemm_c97, gemm_c98, gemm_c99}, {a0, a1, a2, a3}, {b0, b1}, {gemm_c96, gemm_c97, gemm_c98, gemm_c99};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c100, gemm_c101, gemm_c102, gemm_c103}, {a0, a1, a2, a3}, {b4, b5}, {gemm_c100, gemm_c101, gemm_c102, gemm_c103};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c104, gemm_c105, gemm_c106, gemm_c107}, {a0, a1, a2, a3}, {b8, b9}, {gemm_c104, gemm_c105, gemm_c106, gemm_c107};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c108, gemm_c109, gemm_c110, gemm_c111}, {a0, a1, a2, a3}, {b12, b13}, {gemm_c108, gemm_c109, gemm_c110, gemm_c111};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c112, gemm_c113, gemm_c114, gemm_c115}, {a0, a1, a2, a3}, {b16, b17}, {gemm_c112, gemm_c113, gemm_c114, gemm_c115};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c116, gemm_c117, gemm_c118, gemm_c119}, {a0, a1, a2, a3}, {b20, b21}, {gemm_c116, gemm_c117, gemm_c118, gemm_c119};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c120, gemm_c121, gemm_c122, gemm_c123}, {a0, a1, a2, a3}, {b24, b25}, {gemm_c120, gemm_c121, gemm_c122, gemm_c123};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c124, gemm_c125, gemm_c126, gemm_c127}, {a0, a1, a2, a3}, {b28, b29}, {gemm_c124, gemm_c125, gemm_c126, gemm_c127};
        ldmatrix.sync.aligned.m8n8.x4.shared.b16 {a0, a1, a2, a3}, [sa1+3072];
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c96, gemm_c97, gemm_c98, gemm_c99}, {a0, a1, a2, a3}, {b2, b3}, {gemm_c96, gemm_c97, gemm_c98, gemm_c99};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c100, gemm_c101, gemm_c102, gemm_c103}, {a0, a1, a2, a3}, {b6, b7}, {gemm_c100, gemm_c101, gemm_c102, gemm_c103};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c104, gemm_c105, gemm_c106, gemm_c107}, {a0, a1, a2, a3}, {b10, b11}, {gemm_c104, gemm_c105, gemm_c106, gemm_c107};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c108, gemm_c109, gemm_c110, gemm_c111}, {a0, a1, a2, a3}, {b14, b15}, {gemm_c108, gemm_c109, gemm_c110, gemm_c111};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c112, gemm_c113, gemm_c114, gemm_c115}, {a0, a1, a2, a3}, {b18, b19}, {gemm_c112, gemm_c113, gemm_c114, gemm_c115};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c116, gemm_c117, gemm_c118, gemm_c119}, {a0, a1, a2, a3}, {b22, b23}, {gemm_c116, gemm_c117, gemm_c118, gemm_c119};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c120, gemm_c121, gemm_c122, gemm_c123}, {a0, a1, a2, a3}, {b26, b27}, {gemm_c120, gemm_c121, gemm_c122, gemm_c123};
        mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {gemm_c124, gemm_c125, gemm_c126, gemm_c127}, {a0, a1, a2, a3}, {b30, b31}, {gemm_c124, gemm_c125, gemm_c126, gemm_c127};
        """;

    /// <summary>One term: 8 + 8 ldmatrix, 64 MMAs.</summary>
    private const string RoundedSlice = SliceStart + "\n" + Term + "\n}";

    /// <summary>Two terms: 8 + 16 ldmatrix, 128 MMAs (the B fragments serve both); the lo term 128 rows (8,192 bytes) after the hi.</summary>
    private const string SplitSlice = SliceStart + "\n" + Term + "\nadd.u32 sa0, sa0, 8192; add.u32 sa1, sa1, 8192;\n" + Term + "\n}";

    /// <summary>The same for 256-row tiles (<see cref="TallTiles"/>): the lo term 16,384 bytes after the hi.</summary>
    private const string SplitSliceTall = SliceStart + "\n" + Term + "\nadd.u32 sa0, sa0, 16384; add.u32 sa1, sa1, 16384;\n" + Term + "\n}";
}

/// <summary>
/// The tile on ILGPU's CPU accelerator: the accumulators are values, the copies plain view copies, ldmatrix and the
/// MMA computed from their PTX ISA layouts (<see cref="EmulatedMma"/>) on the same shared-memory layout as on CUDA.
/// </summary>
internal readonly struct EmulatedGemmTile(EmulatedGemmTile.Row r0, EmulatedGemmTile.Row r1, EmulatedGemmTile.Row r2, EmulatedGemmTile.Row r3)
    : IGemmTile<EmulatedGemmTile>
{
    private readonly Row _r0 = r0, _r1 = r1, _r2 = r2, _r3 = r3;

    public int ExchangeWords => Mma.ExchangeWords;

    public EmulatedGemmTile Zero() => default;

    public void Copy(ArrayView<Bf16x8> tiles, int chunk, ArrayView<Bf16x8> source, long sourceAddress, int index) => tiles[chunk] = source[index];

    public void Commit() { }

    public void Wait(int pending) { }

    public EmulatedGemmTile Add(ArrayView<Bf16x8> tiles, int stage, GemmFragmentChunks at, int terms, ArrayView<uint> exchange)
    {
        int b = stage + terms * at.TermChunks + at.B;
        var bs = new BTiles(
            LoadMatrices(tiles, b, exchange), LoadMatrices(tiles, b + GemmFragmentChunks.TileChunks, exchange),
            LoadMatrices(tiles, b + 2 * GemmFragmentChunks.TileChunks, exchange), LoadMatrices(tiles, b + 3 * GemmFragmentChunks.TileChunks, exchange),
            LoadMatrices(tiles, b + 4 * GemmFragmentChunks.TileChunks, exchange), LoadMatrices(tiles, b + 5 * GemmFragmentChunks.TileChunks, exchange),
            LoadMatrices(tiles, b + 6 * GemmFragmentChunks.TileChunks, exchange), LoadMatrices(tiles, b + 7 * GemmFragmentChunks.TileChunks, exchange));
        EmulatedGemmTile c = AddTerm(tiles, stage + at.A0, stage + at.A1, bs, exchange);
        int lo = at.TermChunks;
        return terms == 2 ? c.AddTerm(tiles, stage + lo + at.A0, stage + lo + at.A1, bs, exchange) : c;
    }

    public CFragment Fragment(int index)
    {
        Row r = (index >> 3) switch { 0 => _r0, 1 => _r1, 2 => _r2, _ => _r3 };
        return (index & 7) switch { 0 => r.C0, 1 => r.C1, 2 => r.C2, 3 => r.C3, 4 => r.C4, 5 => r.C5, 6 => r.C6, _ => r.C7 };
    }

    private EmulatedGemmTile AddTerm(ArrayView<Bf16x8> tiles, int a0, int a1, BTiles b, ArrayView<uint> exchange)
    {
        const int block = GemmFragmentChunks.BlockChunks;
        return new(
            _r0.Add(A(tiles, a0, exchange), A(tiles, a1, exchange), b, exchange),
            _r1.Add(A(tiles, a0 + block, exchange), A(tiles, a1 + block, exchange), b, exchange),
            _r2.Add(A(tiles, a0 + 2 * block, exchange), A(tiles, a1 + 2 * block, exchange), b, exchange),
            _r3.Add(A(tiles, a0 + 3 * block, exchange), A(tiles, a1 + 3 * block, exchange), b, exchange));
    }

    /// <summary>Each 8-wide tile's ldmatrix words: chunks 0, 1 (step 0's B fragment) and 2, 3 (step 1's).</summary>
    internal readonly struct BTiles(Words4 b0, Words4 b1, Words4 b2, Words4 b3, Words4 b4, Words4 b5, Words4 b6, Words4 b7)
    {
        public readonly Words4 B0 = b0, B1 = b1, B2 = b2, B3 = b3, B4 = b4, B5 = b5, B6 = b6, B7 = b7;
    }

    /// <summary>A 16-row block's A fragment for a step: ldmatrix's four words are the instruction's four registers.</summary>
    private static AFragment A(ArrayView<Bf16x8> tiles, int chunk, ArrayView<uint> exchange)
    {
        Words4 u = LoadMatrices(tiles, chunk, exchange);
        return new AFragment(u.A, u.B, u.C, u.D);
    }

    /// <summary>
    /// <c>ldmatrix.x4</c>: this lane names the 16-byte row <paramref name="chunk"/> of row lane % 8 of matrix lane / 8,
    /// and receives word lane % 4 of row lane / 4 of matrix i in word i. The lanes publish their rows through the
    /// exchange scratch.
    /// </summary>
    private static Words4 LoadMatrices(ArrayView<Bf16x8> tiles, int chunk, ArrayView<uint> exchange)
    {
        int lane = Warp.LaneIdx, row = lane >> 2, word = lane & 3;
        ArrayView<uint> mine = exchange.SubView(Warp.WarpIdx * 32 * Mma.ExchangeWords, 32 * Mma.ExchangeWords);
        mine[lane * Mma.ExchangeWords] = (uint)chunk;
        Warp.Barrier();
        uint w0 = Word(tiles[(int)mine[row * Mma.ExchangeWords]], word);
        uint w1 = Word(tiles[(int)mine[(8 + row) * Mma.ExchangeWords]], word);
        uint w2 = Word(tiles[(int)mine[(16 + row) * Mma.ExchangeWords]], word);
        uint w3 = Word(tiles[(int)mine[(24 + row) * Mma.ExchangeWords]], word);
        Warp.Barrier();
        return new Words4(w0, w1, w2, w3);
    }

    private static uint Word(Bf16x8 v, int i) => (uint)((i < 2 ? v.Low : v.High) >> (32 * (i & 1)));

    /// <summary>A 16 x 64 strip of the warp's block: eight MMA tiles side by side.</summary>
    internal readonly struct Row(CFragment c0, CFragment c1, CFragment c2, CFragment c3, CFragment c4, CFragment c5, CFragment c6, CFragment c7)
    {
        public readonly CFragment C0 = c0, C1 = c1, C2 = c2, C3 = c3, C4 = c4, C5 = c5, C6 = c6, C7 = c7;

        /// <summary>Both k16 steps of a slice: <paramref name="a"/> and <paramref name="a1"/> are the A fragments of steps 0 and 1.</summary>
        public Row Add(AFragment a, AFragment a1, BTiles b, ArrayView<uint> exchange) => new(
            Tile(C0, a, a1, b.B0, exchange), Tile(C1, a, a1, b.B1, exchange), Tile(C2, a, a1, b.B2, exchange), Tile(C3, a, a1, b.B3, exchange),
            Tile(C4, a, a1, b.B4, exchange), Tile(C5, a, a1, b.B5, exchange), Tile(C6, a, a1, b.B6, exchange), Tile(C7, a, a1, b.B7, exchange));

        private static CFragment Tile(CFragment c, AFragment a, AFragment a1, Words4 b, ArrayView<uint> exchange)
        {
            EmulatedMma mma = default;
            return mma.Multiply(mma.Multiply(c, a, new BFragment(b.A, b.B), exchange), a1, new BFragment(b.C, b.D), exchange);
        }
    }
}
