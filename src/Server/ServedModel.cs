using Specialized.Server.Protocol;

namespace Specialized.Server;

/// <summary>The engine behind the endpoints, the name clients call it by, and the prompt checks every endpoint shares.</summary>
internal sealed class ServedModel(Engine engine, string name)
{
    public Engine Engine { get; } = engine;

    public string Name { get; } = name;

    /// <summary>When the server started serving the model, in Unix seconds (OpenAI's <c>created</c> of the model card).</summary>
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public int VocabSize => Engine.Spec.VocabSize;

    public int[] Encode(string text, string param)
    {
        if (Engine.Tokenizer is not { } tokenizer)
        {
            throw new InvalidRequestException("This model has no tokenizer.json: send token ids instead of text.", param, "unsupported_value");
        }
        return CheckedPrompt(tokenizer.Encode(text), param);
    }

    /// <summary>Every prompt of <paramref name="input"/> as token ids, each non-empty, within the vocabulary and the context.</summary>
    public List<int[]> Prompts(PromptInput input, string param)
    {
        if (input.Count == 0) throw new InvalidRequestException($"{param} is an empty list: give at least one prompt.", param);
        return input.Texts is not null
            ? input.Texts.Select(t => Encode(t, param)).ToList()
            : input.TokenIds!.Select(ids => CheckedPrompt(ids, param)).ToList();
    }

    /// <summary>A token's own text, for logprobs (a token that is part of a UTF-8 character decodes to U+FFFD, as in HF).</summary>
    public string TokenText(int id) => Engine.Tokenizer?.Decode([id]) ?? "";

    private int[] CheckedPrompt(int[] ids, string param)
    {
        if (ids.Length == 0) throw new InvalidRequestException($"{param} is empty: a request needs at least one input token.", param);
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)VocabSize) throw new InvalidRequestException($"Token id {id} is outside the model's vocabulary [0, {VocabSize}).", param);
        }
        if (ids.Length >= Engine.ContextLength)
        {
            throw new InvalidRequestException(
                $"This model's maximum context length is {Engine.ContextLength} tokens, but the prompt has {ids.Length} tokens.",
                param, "context_length_exceeded");
        }
        return ids;
    }
}
