namespace Specialized;

/// <summary>The stages of <see cref="Engine.Create"/>, in the order they happen.</summary>
public enum EngineLoadStage
{
    /// <summary>Parsing config.json and loading the tokenizer.</summary>
    ReadingConfig,

    /// <summary>Opening the device: on CUDA the driver's initialisation and the context, a good part of a second.</summary>
    StartingDevice,

    /// <summary>Copying weights from the memory-mapped safetensors into the backend; the bytes count checkpoint bytes.</summary>
    LoadingWeights,

    /// <summary>Compiling the model's kernels for the device (ILGPU backends; the CPU backend has nothing to compile).</summary>
    CompilingKernels,

    /// <summary>Allocating the KV cache and the activation workspace.</summary>
    AllocatingKvCache,

    /// <summary>The scheduler runs; the engine takes requests.</summary>
    Ready,
}

/// <summary>
/// Where engine creation is, for <see cref="EngineOptions.Progress"/>. During <see cref="EngineLoadStage.LoadingWeights"/>
/// <see cref="BytesDone"/> grows to <see cref="BytesTotal"/>; the other stages report no bytes.
/// </summary>
public sealed record EngineLoadProgress(EngineLoadStage Stage, long BytesDone = 0, long BytesTotal = 0);
