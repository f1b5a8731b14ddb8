using ILGPU;
using ILGPU.Runtime;
using Specialized.Kernels;
using Specialized.Models;
// The tensor-core GEMM's tile: 128 x 128, 4 warps, two groups an SM, the shape measured on the H100 (benchmarks/RESULTS.md).
// WideTiles (128 x 256) and TallTiles (256 x 128) compile, pass the same tests and run in the GEMM suite beside it; not
// yet timed on a GPU.
using EngineGemmShape = Specialized.Kernels.SquareTiles;

namespace Specialized.Backends.Ilgpu;

/// <summary>
/// The seam implemented with ILGPU kernels, compiled for <typeparamref name="TDims"/>: with a generated dims struct
/// the sizes are literals in the PTX. The same kernels run on CUDA and, in tests, on ILGPU's CPU accelerator.
/// All work goes to one stream in order; nothing synchronises inside a step.
/// </summary>
public sealed class IlgpuKernels<TDims> : IQwen2Kernels<TDims>, IDecodeStepReplay, IBackgroundCompilation, IDisposable where TDims : struct, IQwen2Dims
{
    private readonly Accelerator _accelerator;
    private readonly KernelLoader _kernels;
    private readonly AcceleratorStream _stream;
    private readonly TDims _dims;
    private readonly int _groupSize;
    private readonly DeviceBatch _batch;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _cos, _sin, _empty;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _keys, _values;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _gathered;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, TDims> _embed;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, TDims> _norm;
    private readonly Gemvs _gemv;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, int, ArrayView<float>, int, int, int>? _gemm;
    private readonly MemoryBuffer1D<ushort, Stride1D.Dense>? _activationTerms;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? _splitKPartials;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, TDims> _ropeKv;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, TDims>? _attention;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims>? _extendAttention;
    private readonly Task<TensorCoreKernels>? _tensorCores;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, TDims>? _combineAttention;
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? _attentionPartials;
    private readonly int _attentionTargetGroups;
    private readonly bool _decodeOnTensorCores;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, TDims> _siluMul;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int> _gather;
    private readonly DecodeGraphs? _decodeGraphs;

    /// <summary>While a decode step is recorded or replayed: the context bucket its attention plans key ranges for.</summary>
    private int _plannedContext;

    public IlgpuKernels(KernelLoader kernels, AcceleratorStream stream, TDims dims, RunnerOptions options, IProgress<EngineLoadProgress>? progress = null)
    {
        if (dims.HeadDim > AttentionKernel.MaxHeadDim)
        {
            throw new NotSupportedException($"head_dim {dims.HeadDim} is above the {AttentionKernel.MaxHeadDim} the attention kernel supports.");
        }
        if (dims.HiddenSize % 8 != 0 || dims.IntermediateSize % 8 != 0 || dims.QSize % 8 != 0)
        {
            throw new NotSupportedException("The GPU kernels read weights eight bf16 at a time: hidden, intermediate and q sizes must be multiples of 8.");
        }
        if (dims.HeadDim % 4 != 0)
        {
            throw new NotSupportedException($"head_dim {dims.HeadDim}: the GPU kernels write the KV cache in pairs of element pairs, so it must be a multiple of 4.");
        }
        Accelerator accelerator = kernels.Accelerator;
        _accelerator = accelerator;
        _kernels = kernels;
        _stream = stream;
        _dims = dims;
        _groupSize = Math.Min(256, accelerator.MaxNumThreadsPerGroup);

        // Compilation first: it is most of the wait on a GPU, and a progress display can say so.
        progress?.Report(new EngineLoadProgress(EngineLoadStage.CompilingKernels));
        bool cuda = accelerator.AcceleratorType == AcceleratorType.Cuda;
        bool bf16Kv = options.Kv.Dtype == KvCacheDtype.BFloat16;
        _embed = kernels.LoadKernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, TDims>(EmbedKernel.Run);
        _norm = kernels.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, TDims>(RmsNormKernel.Run);
        _gemv = bf16Kv ? Gemvs.Load<Bf16Kv>(kernels) : Gemvs.Load<Float32Kv>(kernels);
        // Only the kernels this model's shapes use: compiling one costs a good part of a second at start-up. The
        // tensor-core GEMM needs 32-wide input slices; the block attention at most MaxRows query heads per KV head and
        // head rows of whole 16-byte pieces; the SIMT GEMM and the warp-per-row attention cover the shapes they don't.
        bool tensorCoreGemm = accelerator.MaxNumThreadsPerGroup >= GemmKernel.GroupSize;
        if (tensorCoreGemm && !new[] { dims.HiddenSize, dims.IntermediateSize, dims.QSize }.All(n => n % TensorCoreGemmKernel.Depth == 0))
        {
            _gemm = kernels.LoadKernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, int, ArrayView<float>, int, int, int>(GemmKernel.Run);
        }
        // The cache's writer and the SIMT attention, for the cache's format (the block kernel where the model's shapes
        // and the device's groups allow it, else the warp-per-row one).
        bool blockAttention = accelerator.MaxNumThreadsPerGroup >= ExtendAttentionKernel.GroupSize && ExtendAttentionKernel.Supports(dims);
        (_ropeKv, _extendAttention, _attention) = bf16Kv ? LoadCacheKernels<Bf16Kv>() : LoadCacheKernels<Float32Kv>();
        // Attention on tensor cores: for prefill, head rows of whole k16 steps and at most 64 query heads per KV head;
        // for decode tokens, where the model allows (DecodeAttentionKernel.Supports), a kernel of its own.
        bool tensorCoreAttention = accelerator.MaxNumThreadsPerGroup >= TensorCoreAttentionKernel.GroupSize && TensorCoreAttentionKernel.Supports(dims);
        _decodeOnTensorCores = tensorCoreAttention && accelerator.MaxNumThreadsPerGroup >= DecodeAttentionKernel.GroupSize && DecodeAttentionKernel.Supports(dims);
        if (_extendAttention is not null || tensorCoreAttention)
        {
            _combineAttention = kernels.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, TDims>(AttentionCombineKernel.Run);
        }
        _siluMul = kernels.LoadKernel<ArrayView<float>, ArrayView<float>, int, TDims>(SiluMulKernel.Run);
        _gather = kernels.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(GatherRowsKernel.Run);
        // The tensor-core kernels are the largest by far (ILGPU takes ~0.3 s on the GEMM and ~0.7 s on the prefill
        // attention, the driver's PTX JIT more on a machine's first run), and a first token needs none of them: with
        // BackgroundCompile on CUDA they compile after the kernels above, on another thread, while the engine starts
        // serving; until they are ready projections run on the GEMV and attention on the SIMT kernels. They start
        // only now because ILGPU compiles one kernel at a time (its frontend holds a context-wide lock): started
        // first, they held up the kernels above. On ILGPU's CPU accelerator they load here, so tests always exercise them.
        if (tensorCoreGemm || tensorCoreAttention)
        {
            TensorCoreKernels LoadTensorCores() => new(
                tensorCoreGemm ? LoadTensorCoreGemm() : null,
                tensorCoreAttention ? (cuda ? LoadTensorCoreAttention<PtxMma>() : LoadTensorCoreAttention<EmulatedMma>()) : null);
            _tensorCores = cuda && options.BackgroundCompile
                ? Task.Run(() =>
                {
                    accelerator.Bind();   // CUDA's current context is per thread: module loading needs it on this one
                    return LoadTensorCores();
                })
                : Task.FromResult(LoadTensorCores());
        }

        TensorCoreGemms LoadTensorCoreGemm() => (cuda, options.Bf16Activations) switch
        {
            (true, false) => TensorCoreGemms.Load<SplitActivations, PtxMma, EngineGemmShape>(kernels),
            (true, true) => TensorCoreGemms.Load<RoundedActivations, PtxMma, EngineGemmShape>(kernels),
            (false, false) => TensorCoreGemms.Load<SplitActivations, EmulatedMma, EngineGemmShape>(kernels),
            (false, true) => TensorCoreGemms.Load<RoundedActivations, EmulatedMma, EngineGemmShape>(kernels),
        };

        (Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, TDims>,
            Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims>?,
            Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, TDims>?)
            LoadCacheKernels<TKv>() where TKv : struct, IKvFormat => (
            kernels.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, TDims>(RopeKvKernel.Run<TDims, TKv>),
            blockAttention
                ? kernels.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims>(ExtendAttentionKernel.Run<TDims, TKv>)
                : null,
            blockAttention
                ? null
                : kernels.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, int, int, int, TDims>(AttentionKernel.Run<TDims, TKv>));

        // The tensor-core attention kernels, for the instruction (IMma) of this accelerator and the cache's format.
        TensorCoreAttention LoadTensorCoreAttention<TMma>() where TMma : struct, IMma =>
            bf16Kv ? LoadTensorCoreAttentionFor<TMma, Bf16Kv>() : LoadTensorCoreAttentionFor<TMma, Float32Kv>();
        TensorCoreAttention LoadTensorCoreAttentionFor<TMma, TKv>() where TMma : struct, IMma where TKv : struct, IKvFormat => new(
            kernels.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims>(TensorCoreAttentionKernel.Run<TDims, TMma, TKv>),
            _decodeOnTensorCores
                ? kernels.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims>(
                    DecodeAttentionKernel.Run<TDims, TMma, TKv>, cuda ? DecodeAttentionKernel.Specialization : default)
                : null);

        progress?.Report(new EngineLoadProgress(EngineLoadStage.AllocatingKvCache));
        // Room for the index arrays of a full step and the page tables of a full KV pool (twice: shared prefixes repeat).
        _batch = new DeviceBatch(accelerator, ExtendAttentionKernel.TokensPerBlock(dims.GroupSize),
            tensorCoreAttention ? TensorCoreAttentionKernel.TokensPerBlock(dims.GroupSize) : 0, _decodeOnTensorCores,
            10L * options.MaxBatchTokens + 2L * options.Kv.NumPages + 64);
        var rope = RotaryTable.For(dims, options.MaxPositions);
        _cos = accelerator.Allocate1D(rope.Cos);
        _sin = accelerator.Allocate1D(rope.Sin);
        _empty = accelerator.Allocate1D<float>(1);
        // One page past the pool: the scratch page where a replayed decode step's padding sequences write their KV.
        // Storage floats (a bf16 cache packs two elements in one), whole 16-byte words.
        long elements = (long)(options.Kv.Slots + options.Kv.PageSize) * dims.KvSize;
        long cacheLength = ((bf16Kv ? (elements + 1) / 2 : elements) + 3) / 4 * 4;
        _keys = new MemoryBuffer1D<float, Stride1D.Dense>[dims.NumLayers];
        _values = new MemoryBuffer1D<float, Stride1D.Dense>[dims.NumLayers];
        for (int l = 0; l < dims.NumLayers; l++)
        {
            _keys[l] = accelerator.Allocate1D<float>(cacheLength);
            _values[l] = accelerator.Allocate1D<float>(cacheLength);
        }
        _gathered = accelerator.Allocate1D<float>((long)options.MaxLogitRows * dims.HiddenSize);
        if (tensorCoreGemm)
        {
            // The hi and lo bf16 terms of the widest GEMM input of a full step.
            long widest = (long)Math.Max(options.MaxBatchTokens, options.MaxLogitRows) * Math.Max(dims.IntermediateSize, Math.Max(dims.HiddenSize, dims.QSize));
            _activationTerms = accelerator.Allocate1D<ushort>(2 * widest);
            _splitKPartials = accelerator.Allocate1D<float>(GemmTiling.Of<EngineGemmShape>().MaxPartialFloats(accelerator.NumMultiprocessors));
        }
        // Attention groups that keep the GPU busy: two per multiprocessor. Fewer (block, KV head) groups split the keys.
        _attentionTargetGroups = 2 * accelerator.NumMultiprocessors;
        if (_combineAttention is not null)
        {
            // Split keys only while the groups are fewer than the target, so groups x splits stays under twice it.
            int rows = tensorCoreAttention ? TensorCoreAttentionKernel.Rows : ExtendAttentionKernel.MaxRows;
            _attentionPartials = accelerator.Allocate1D<float>(2L * _attentionTargetGroups * rows * ExtendAttentionKernel.PartialSize);
        }
        int graphBatch = Math.Min(options.CudaGraphMaxBatch, Math.Min(options.MaxBatchTokens, options.MaxLogitRows));
        if (graphBatch > 0) _decodeGraphs = new DecodeGraphs(graphBatch, scratchPage: options.Kv.NumPages);
    }

    /// <summary>The tensor-core kernels' compilation (done at creation where it does not run in the background).</summary>
    public Task Compiled => _tensorCores ?? Task.CompletedTask;

    /// <summary>Decode steps run padded to a graph size (replayed on CUDA, launched on the CPU accelerator).</summary>
    internal int PaddedSteps { get; private set; }

    /// <summary>
    /// A decode step, padded to a graph size and replayed from its CUDA graph (recorded on first use). On ILGPU's CPU
    /// accelerator, which has no graphs, the padded step runs launch by launch: tests check the padding that way.
    /// </summary>
    public bool TryRun(ForwardBatch batch, Action<ForwardBatch> forward)
    {
        if (_decodeGraphs is null || !_decodeGraphs.Serves(batch)) return false;
        // A graph keeps the kernels it was recorded with: none is recorded before the tensor-core kernels are ready.
        if (_tensorCores is { IsCompleted: false }) return false;
        int size = _decodeGraphs.PaddedSize(batch.TokenCount);
        ForwardBatch padded = _decodeGraphs.Pad(batch, size);
        PaddedSteps++;
        _batch.Use(padded, _stream);
        int context = DecodeGraphs.ContextBucket(_batch.LongestContext);
        void Launches()
        {
            _plannedContext = context;
            try
            {
                forward(padded);
            }
            finally
            {
                _plannedContext = 0;
            }
        }
        if (_accelerator.AcceleratorType != AcceleratorType.Cuda)
        {
            Launches();
            return true;
        }
        _decodeGraphs.Get(size, context, _batch.Generation, () => CudaGraph.Capture(_stream, Launches, _kernels.WaitsForGridDependencies)).Launch(_stream);
        return true;
    }

    public void Embed(ForwardBatch batch, Tensor table, Tensor output)
    {
        _batch.Use(batch, _stream);
        int n = batch.TokenCount * _dims.HiddenSize;
        _embed(_stream, Elementwise(n), IlgpuTensor.Of(table).B16, _batch.TokenIds, IlgpuTensor.Of(output).F32, batch.TokenCount, _dims);
    }

    public void RmsNorm(ForwardBatch batch, Tensor input, Tensor weight, Tensor output)
    {
        _batch.Use(batch, _stream);
        Norm(IlgpuTensor.Of(input).F32, IlgpuTensor.Of(weight).F32, IlgpuTensor.Of(output).F32, batch.TokenCount);
    }

    /// <summary>
    /// On the GEMV, one kernel: the norm folded in, each warp taking a rotary row pair of q | k | v, RoPE and the KV write
    /// in the epilogue. On the GEMMs, the projection, then the RoPE kernel.
    /// </summary>
    public void NormQkv(ForwardBatch batch, int layer, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor? bias, Tensor qkv)
    {
        _batch.Use(batch, _stream);
        var input = new Input(IlgpuTensor.Of(residual).F32, IlgpuTensor.Of(norm).F32, IlgpuTensor.Of(normed).F32);
        IlgpuTensor w = IlgpuTensor.Of(weight);
        IlgpuTensor? b = bias is null ? null : IlgpuTensor.Of(bias);
        int tokens = batch.TokenCount, outDim = w.Shape[0], inDim = w.Shape[1];
        ArrayView<float> y = IlgpuTensor.Of(qkv).F32;
        if (RouteFor(tokens, outDim, inDim) == Route.Gemv)
        {
            var kv = new GemvKvTarget(_cos.View, _sin.View, _batch.Positions, _batch.Slots, _keys[layer].View, _values[layer].View,
                _dims.HeadDim, _dims.NumHeads, _dims.NumKvHeads);
            _gemv.Run(_stream, input.X, input.Norm, w.B16Octets, b?.F32 ?? _empty.View, b is not null, y, tokens, inDim, outDim / 2, GemvEpilogue.RotaryPairs,
                _dims.RmsNormEps, _accelerator.NumMultiprocessors, _groupSize, kv);
            return;
        }
        Project(input, w, b, y, tokens, GemvEpilogue.Store);
        RopeAndStoreKv(batch, layer, qkv);
    }

    public void LinearAdd(ForwardBatch batch, Tensor input, Tensor weight, Tensor scratch, Tensor residual)
    {
        _batch.Use(batch, _stream);
        Project(new Input(IlgpuTensor.Of(input).F32), IlgpuTensor.Of(weight), null, IlgpuTensor.Of(residual).F32, batch.TokenCount, GemvEpilogue.Add);
    }

    /// <summary>On the GEMV, one kernel: the norm folded in, each warp taking row o of gate and of up, SiLU in the epilogue.</summary>
    public void NormGateUp(ForwardBatch batch, Tensor residual, Tensor norm, Tensor normed, Tensor weight, Tensor gateUp, Tensor activated)
    {
        _batch.Use(batch, _stream);
        var input = new Input(IlgpuTensor.Of(residual).F32, IlgpuTensor.Of(norm).F32, IlgpuTensor.Of(normed).F32);
        IlgpuTensor w = IlgpuTensor.Of(weight);
        int tokens = batch.TokenCount, outDim = w.Shape[0], inDim = w.Shape[1];
        ArrayView<float> y = IlgpuTensor.Of(activated).F32;
        switch (RouteFor(tokens, outDim, inDim))
        {
            case Route.Gemv:
                LaunchGemv(input, w, null, y, tokens, _dims.IntermediateSize, GemvEpilogue.SiluPair);
                return;
            case Route.TensorCore:
                // SiLU in the GEMM's epilogue: gate and up never leave registers.
                ReadyTensorCores()!.Gemm!.Run(_stream, input.X, _activationTerms!.View, w.B16Octets, _empty.View, false, y, _splitKPartials!.View,
                    tokens, inDim, outDim, _accelerator.NumMultiprocessors, input.Norm, _dims.RmsNormEps, siluPairs: true);
                return;
            default:
                ArrayView<float> gu = IlgpuTensor.Of(gateUp).F32;
                Project(input, w, null, gu, tokens, GemvEpilogue.Store);
                _siluMul(_stream, Elementwise(tokens * _dims.IntermediateSize), gu, y, tokens, _dims);
                return;
        }
    }

    public void RopeAndStoreKv(ForwardBatch batch, int layer, Tensor qkv)
    {
        _batch.Use(batch, _stream);
        int n = batch.TokenCount * (_dims.NumHeads + 2 * _dims.NumKvHeads) * (_dims.HeadDim / 2);
        _ropeKv(_stream, Elementwise(n), IlgpuTensor.Of(qkv).F32, _keys[layer].View, _values[layer].View, _cos.View, _sin.View,
            _batch.Positions, _batch.Slots, batch.TokenCount, _dims);
    }

    public void Attention(ForwardBatch batch, int layer, int slidingWindow, Tensor qkv, Tensor output)
    {
        _batch.Use(batch, _stream);
        // With the decode kernel, every step attends on tensor cores: the sequences that bring one token on it, the
        // others on the prefill kernel (two launches writing disjoint rows). Without it, the prefill kernel takes a
        // step whose sequences bring two tokens or more on average (its list then holds every sequence).
        bool tensorCores = _decodeOnTensorCores || UseTensorCoreAttention(batch.TokenCount, batch.SequenceCount);
        if (tensorCores && ReadyTensorCores()?.Attention is TensorCoreAttention kernels)
        {
            if (_batch.TensorCoreAttentionBlockCount > 0)
            {
                BlockAttention(kernels.Prefill, _batch.TensorCoreAttentionBlocks, _batch.TensorCoreAttentionBlockCount,
                    TensorCoreAttentionKernel.GroupSize, TensorCoreAttentionKernel.Rows, batch, layer, slidingWindow, qkv, output);
            }
            if (_batch.DecodeBlockCount > 0)
            {
                BlockAttention(kernels.Decode!, _batch.DecodeBlocks, _batch.DecodeBlockCount,
                    DecodeAttentionKernel.GroupSize, DecodeAttentionKernel.Rows, batch, layer, slidingWindow, qkv, output);
            }
            return;
        }
        if (_extendAttention is not null)
        {
            BlockAttention(_extendAttention, _batch.AttentionBlocks, _batch.AttentionBlockCount,
                ExtendAttentionKernel.GroupSize, ExtendAttentionKernel.MaxRows, batch, layer, slidingWindow, qkv, output);
            return;
        }
        int warps = batch.TokenCount * _dims.NumHeads;
        int warpsPerGroup = _groupSize / 32;
        _attention!(_stream, new KernelConfig((warps + warpsPerGroup - 1) / warpsPerGroup, _groupSize),
            IlgpuTensor.Of(qkv).F32, IlgpuTensor.Of(output).F32, _keys[layer].View, _values[layer].View,
            _batch.Positions, _batch.TokenSequence, _batch.PageTable, _batch.PageOffsets, batch.PageSize, slidingWindow, batch.TokenCount, _dims);
    }

    public void Logits(ForwardBatch batch, Tensor input, Tensor weight, Tensor logits)
    {
        _batch.Use(batch, _stream);
        int rows = batch.LogitRows.Length;
        if (rows == 0) return;
        int h = _dims.HiddenSize;
        ArrayView<float> gathered = _gathered.View.SubView(0, (long)rows * h);
        _gather(_stream, Elementwise(rows * h), IlgpuTensor.Of(input).F32, _batch.LogitRows, gathered, rows, h);
        Project(new Input(gathered), IlgpuTensor.Of(weight), null, IlgpuTensor.Of(logits).F32, rows, GemvEpilogue.Store);
    }

    /// <summary>
    /// A group per (block, KV head, key range) of a block kernel (<paramref name="rows"/> query rows a group), its key
    /// ranges split until the groups fill the GPU and merged by the combine kernel.
    /// </summary>
    private void BlockAttention(Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims> kernel, ArrayView<int> blockList, int blocks, int groupSize, int rows,
        ForwardBatch batch, int layer, int slidingWindow, Tensor qkv, Tensor output)
    {
        int kvHeads = _dims.NumKvHeads;
        int context = _plannedContext > 0 ? _plannedContext : _batch.LongestContext;
        int splits = KeySplits(blocks * kvHeads, context, _attentionTargetGroups);
        int splitKeys = (context + splits - 1) / splits;
        splitKeys = (splitKeys + 31) / 32 * 32;
        splits = (context + splitKeys - 1) / splitKeys;
        kernel(_stream, new KernelConfig(new Index3D(blocks, kvHeads, splits), new Index3D(groupSize, 1, 1)),
            IlgpuTensor.Of(qkv).F32, IlgpuTensor.Of(output).F32, _keys[layer].View, _values[layer].View, _batch.Positions, _batch.TokenSequence,
            _batch.PageTable, _batch.PageOffsets, blockList, _attentionPartials!.View, splitKeys, batch.PageSize, slidingWindow, _dims);
        if (splits > 1)
        {
            _combineAttention!(_stream, new KernelConfig(new Index2D(blocks, kvHeads), new Index2D(Math.Min(AttentionCombineKernel.GroupSize, _groupSize), 1)),
                _attentionPartials.View, IlgpuTensor.Of(output).F32, blockList, splits, rows, _dims);
        }
    }

    /// <summary>The tensor-core kernels once their background compilation is done (null before, or where none apply); its failure surfaces here.</summary>
    private TensorCoreKernels? ReadyTensorCores()
    {
        if (_tensorCores is null) return null;
        if (_tensorCores.IsFaulted)
        {
            throw new InvalidOperationException("Compiling the tensor-core kernels failed.", _tensorCores.Exception!.InnerException);
        }
        return _tensorCores.IsCompletedSuccessfully ? _tensorCores.Result : null;
    }

    /// <summary>
    /// Where the model has no decode kernel (<see cref="DecodeAttentionKernel.Supports"/>), the tensor-core prefill
    /// attention serves a step whose sequences bring <see cref="TensorCoreAttentionFromTokens"/> tokens or more on
    /// average (prefill chunks, and mixed batches that a chunk dominates): its blocks then hold several tokens, each
    /// group's 64 query rows are mostly live and the MMAs replace the SIMT kernel's shared-memory-bound FMAs. A decode
    /// step (one token a sequence) would fill G of a group's 64 rows: it keeps the SIMT block kernel, whose 16-row
    /// groups it fills better.
    /// </summary>
    internal static bool UseTensorCoreAttention(int tokens, int sequences) => tokens >= TensorCoreAttentionFromTokens * sequences;

    /// <summary>Tokens a sequence, on average over the step, from which attention runs on tensor cores.</summary>
    public const int TensorCoreAttentionFromTokens = 2;

    /// <summary>Keys of one range at the least when attention splits them: two tiles, so a range amortizes its setup.</summary>
    public const int MinSplitKeys = 64;

    /// <summary>
    /// How many key ranges attention splits into: one while the (block, KV head) groups fill the GPU; otherwise enough
    /// to reach the target, but no range shorter than <see cref="MinSplitKeys"/>. A decode step of one request over a
    /// 1,000-token context has 2 groups on the 0.5B model: split 15 ways, its 32 tiles a group become about 2.
    /// </summary>
    internal static int KeySplits(int groups, int longestContext, int targetGroups)
    {
        if (groups >= targetGroups) return 1;
        int byLength = longestContext / MinSplitKeys, byGroups = (targetGroups + groups - 1) / groups;
        return Math.Max(1, Math.Min(byLength, byGroups));
    }

    /// <summary>
    /// From this many tokens the tiled GEMMs always beat the GEMV, which reads every weight row once per 4 tokens; the
    /// SIMT GEMM (inputs not whole 32-deep slices) serves from here.
    /// </summary>
    public const int GemmFromTokens = 128;

    /// <summary>
    /// From this many tokens every projection takes the tensor-core GEMM: the GEMV reads its weights once per 4 tokens,
    /// and split K spreads the 896-wide projections' few tiles over the card. Profiled on an H100 (benchmarks/RESULTS.md,
    /// 2026-12-07), the GEMV at 16 tokens took 53 us for down (4 reads of 8.7 MB) and 70 us for gate_up (4 of 17.4 MB),
    /// where one read at the card's bandwidth is 3-6 us; the split-K GEMM took 54 us for down at 512 tokens.
    /// </summary>
    public const int TensorCoreFromTokens = 16;

    /// <summary>
    /// A projection this wide (the LM head: 151,936 outputs) takes the tensor-core GEMM from the fifth token on, where
    /// the GEMV starts reading its weights twice: on an H200 the 151,936 x 896 GEMV at 16 rows took 895 us (ncu), four
    /// reads of 272 MB, where one read at the card's bandwidth is ~70 us.
    /// </summary>
    public const int WideTensorCoreMinOutputs = 65_536;

    /// <summary>
    /// A projection's input rows: plain, or (with a norm) the residual stream to RMS-normalize first, with the scratch
    /// where a kernel that cannot fold the norm in leaves the normalized rows.
    /// </summary>
    private readonly record struct Input(ArrayView<float> X, ArrayView<float> Norm = default, ArrayView<float> Normed = default)
    {
        public bool IsNormed => Norm.IsValid;
    }

    private enum Route
    {
        Gemv,
        TensorCore,
        Simt,
    }

    /// <summary>Which kernel computes a projection of <paramref name="tokens"/> rows onto <paramref name="outDim"/> outputs.</summary>
    private Route RouteFor(int tokens, int outDim, int inDim)
    {
        bool tensorCores = tokens >= TensorCoreFromTokens
            || (tokens > LinearKernel.TokensPerWarp && outDim >= WideTensorCoreMinOutputs);
        if (tensorCores && inDim % TensorCoreGemmKernel.Depth == 0 && ReadyTensorCores()?.Gemm is not null) return Route.TensorCore;
        if (_gemm is not null && tokens >= GemmFromTokens) return Route.Simt;
        return Route.Gemv;
    }

    /// <summary>y = input x weightᵀ (+ bias), or with <see cref="GemvEpilogue.Add"/> y += it, on the kernel <see cref="RouteFor"/> picks.</summary>
    private void Project(Input input, IlgpuTensor weight, IlgpuTensor? bias, ArrayView<float> y, int tokens, GemvEpilogue epilogue)
    {
        int outDim = weight.Shape[0], inDim = weight.Shape[1];
        bool add = epilogue == GemvEpilogue.Add;
        switch (RouteFor(tokens, outDim, inDim))
        {
            case Route.TensorCore:
                ReadyTensorCores()!.Gemm!.Run(_stream, input.X, _activationTerms!.View, weight.B16Octets, bias?.F32 ?? _empty.View, bias is not null, y, _splitKPartials!.View,
                    tokens, inDim, outDim, _accelerator.NumMultiprocessors, input.Norm, _dims.RmsNormEps, add);
                return;
            case Route.Simt:
                ArrayView<float> x = input.X;
                if (input.IsNormed)
                {
                    Norm(x, input.Norm, input.Normed, tokens);
                    x = input.Normed;
                }
                var tiles = new Index2D((outDim + GemmKernel.Tile - 1) / GemmKernel.Tile, (tokens + GemmKernel.Tile - 1) / GemmKernel.Tile);
                _gemm!(_stream, new KernelConfig(tiles, new Index2D(GemmKernel.GroupSize, 1)), x, weight.B16, bias?.F32 ?? _empty.View,
                    bias is null ? 0 : 1, add ? 1 : 0, y, tokens, inDim, outDim);
                return;
            default:
                LaunchGemv(input, weight, bias, y, tokens, outDim, epilogue);
                return;
        }
    }

    /// <summary>The GEMV: <paramref name="outputs"/> columns of y (half the weight's rows with <see cref="GemvEpilogue.SiluPair"/>).</summary>
    private void LaunchGemv(Input input, IlgpuTensor weight, IlgpuTensor? bias, ArrayView<float> y, int tokens, int outputs, GemvEpilogue epilogue) =>
        _gemv.Run(_stream, input.X, input.Norm, weight.B16Octets, bias?.F32 ?? _empty.View, bias is not null, y, tokens, weight.Shape[1], outputs, epilogue,
            _dims.RmsNormEps, _accelerator.NumMultiprocessors, _groupSize);

    private void Norm(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> output, int tokens) =>
        _norm(_stream, new KernelConfig(tokens, _groupSize), x, weight, output, _dims);

    private KernelConfig Elementwise(int count) => new((count + _groupSize - 1) / _groupSize, _groupSize);

    /// <summary>The kernels compiled in the background: the tensor-core GEMM, and the attention where the model allows it.</summary>
    private sealed record TensorCoreKernels(TensorCoreGemms? Gemm, TensorCoreAttention? Attention);

    /// <summary>The tensor-core attention kernels: prefill, and decode where the model allows it.</summary>
    private sealed record TensorCoreAttention(
        Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims> Prefill,
        Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, int, int, int, TDims>? Decode);

    public void Dispose()
    {
        // A compilation still running holds the accelerator: let it finish (its result or failure no longer matters).
        try
        {
            _tensorCores?.Wait();
        }
        catch (AggregateException)
        {
        }
        _decodeGraphs?.Dispose();
        _batch.Dispose();
        _cos.Dispose();
        _sin.Dispose();
        _empty.Dispose();
        _gathered.Dispose();
        _attentionPartials?.Dispose();
        _activationTerms?.Dispose();
        _splitKPartials?.Dispose();
        foreach (var b in _keys) b.Dispose();
        foreach (var b in _values) b.Dispose();
    }
}
