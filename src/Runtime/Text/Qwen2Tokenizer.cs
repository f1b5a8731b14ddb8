using System.Collections.Concurrent;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Specialized.Text;

/// <summary>
/// The Qwen2-family tokenizer (Qwen2, Qwen2.5, Qwen3), read from a checkpoint folder's tokenizer.json and
/// tokenizer_config.json, giving the ids Hugging Face tokenizers gives: added tokens are split out of the raw text
/// first, the rest is NFC-normalized, split by Qwen's pre-tokenizer and byte-level BPE-encoded by
/// Microsoft.ML.Tokenizers. Encode and Decode may be called from several threads at once.
/// </summary>
public sealed class Qwen2Tokenizer
{
    // ML.Tokenizers caches the merges of words of at most 15 byte-level characters, which leaves out most CJK words
    // (3 bytes a character) and every long word; HF caches words of up to 256 characters. So pieces are cached
    // here, up to that length and a bound on the count that keeps the cache to a few tens of megabytes.
    private const int MaxCachedPieceLength = 256;
    private const int MaxCachedPieces = 200_000;

    private readonly BpeTokenizer _bpe;
    private readonly ConcurrentDictionary<string, int[]> _idsOfPiece = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _idsOfPieceSpan;
    private readonly bool _normalizesToNfc;
    private readonly AddedTokenMatcher _allAddedTokens;
    private readonly AddedTokenMatcher _nonSpecialAddedTokens;
    private readonly byte[]?[] _bytesOfId;
    private readonly bool[] _isSpecial;

    private Qwen2Tokenizer(TokenizerJsonContent tokenizer, string tokenizerPath, TokenizerConfigContent config, string configPath)
    {
        _normalizesToNfc = tokenizer.NormalizesToNfc;
        _allAddedTokens = new AddedTokenMatcher(tokenizer.AddedTokens);
        _nonSpecialAddedTokens = new AddedTokenMatcher(tokenizer.AddedTokens.Where(t => !t.IsSpecial));

        // BPE gets one pre-tokenized piece at a time, never an added token, so it needs no pre-tokenizer,
        // normalizer or special tokens of its own.
        try
        {
            _bpe = BpeTokenizer.Create(new BpeOptions(tokenizer.Vocab) { Merges = tokenizer.Merges, ByteLevel = true });
        }
        catch (InvalidOperationException e)
        {
            throw new TokenizerLoadException(tokenizerPath, $"model.vocab and model.merges do not agree ({e.Message}) " +
                "Download the file again from the model's repository.", e);
        }
        _idsOfPieceSpan = _idsOfPiece.GetAlternateLookup<ReadOnlySpan<char>>();

        VocabSize = Math.Max(tokenizer.Vocab.Values.DefaultIfEmpty(-1).Max(), tokenizer.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max()) + 1;
        _bytesOfId = new byte[VocabSize][];
        _isSpecial = new bool[VocabSize];
        foreach ((string token, int id) in tokenizer.Vocab) _bytesOfId[id] = ByteLevelAlphabet.TokenBytes(token);
        var idOfAddedToken = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (AddedToken added in tokenizer.AddedTokens)
        {
            _bytesOfId[added.Id] = ByteLevelAlphabet.TokenBytes(added.Content);
            _isSpecial[added.Id] = added.IsSpecial;
            idOfAddedToken[added.Content] = added.Id;
        }

        int IdOf(string token, string field) =>
            idOfAddedToken.TryGetValue(token, out int id) || tokenizer.Vocab.TryGetValue(token, out id) ? id
            : throw new TokenizerLoadException(configPath, $"{field} \"{token}\" is not a token of {TokenizerFiles.TokenizerJson}: " +
                "name one of its added tokens, e.g. \"<|im_end|>\" or \"<|endoftext|>\".");
        EosTokenId = IdOf(config.EosToken, "eos_token");
        PadTokenId = config.PadToken is null ? null : IdOf(config.PadToken, "pad_token");
        ChatTemplateSource = config.ChatTemplate;
    }

    /// <summary>
    /// Loads tokenizer.json and tokenizer_config.json from a checkpoint folder.
    /// </summary>
    /// <exception cref="TokenizerLoadException">A file is missing, is not valid JSON, or describes another tokenizer.</exception>
    public static Qwen2Tokenizer Load(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new TokenizerLoadException(folder, $"no such folder: pass the checkpoint folder that holds {TokenizerFiles.TokenizerJson} " +
                $"and {TokenizerFiles.TokenizerConfigJson}.");
        }
        string configPath = Path.Combine(folder, TokenizerFiles.TokenizerConfigJson);
        string tokenizerPath = Path.Combine(folder, TokenizerFiles.TokenizerJson);
        TokenizerConfigContent config = TokenizerFiles.ReadTokenizerConfig(configPath);
        return new Qwen2Tokenizer(TokenizerFiles.ReadTokenizerJson(tokenizerPath), tokenizerPath, config, configPath);
    }

    /// <summary>
    /// How many ids there are: the BPE vocabulary and the added tokens (151,669 for Qwen3's file). The model's
    /// embedding has more rows (151,936); ids past this count have no text.
    /// </summary>
    public int VocabSize { get; }

    /// <summary>The token that ends a reply (tokenizer_config.json's eos_token), e.g. &lt;|im_end|&gt; for instruct models.</summary>
    public int EosTokenId { get; }

    /// <summary>The token that pads a batch (tokenizer_config.json's pad_token), if it names one.</summary>
    public int? PadTokenId { get; }

    /// <summary>
    /// tokenizer_config.json's Jinja chat template, verbatim, or null. Kept for reference: <see cref="ChatTemplate"/>
    /// renders Qwen2.5's ChatML in C# and does not interpret this text.
    /// </summary>
    public string? ChatTemplateSource { get; }

    /// <summary>
    /// Whether <paramref name="id"/> is a special token (an added token marked special, like &lt;|im_end|&gt;), which
    /// decoding with skipSpecialTokens leaves out. Qwen's non-special added tokens (&lt;think&gt;, &lt;tool_call&gt;) are not.
    /// </summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_isSpecial.Length && _isSpecial[id];

    /// <summary>
    /// The token ids of <paramref name="text"/>, as Hugging Face tokenizers gives them (no BOS or EOS is added).
    /// </summary>
    /// <param name="text">Well-formed UTF-16 text.</param>
    /// <param name="parseSpecialTokens">
    /// True: special tokens written in the text (&lt;|im_start|&gt;) become their ids. False: they are encoded as plain
    /// text, as HF does with encode_special_tokens; use this for untrusted text. Non-special added tokens are matched
    /// either way, as in HF.
    /// </param>
    /// <exception cref="ArgumentException">The text has an unpaired surrogate.</exception>
    public int[] Encode(string text, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        AddedTokenMatcher matcher = parseSpecialTokens ? _allAddedTokens : _nonSpecialAddedTokens;
        var ids = new List<int>(text.Length / 3 + 1);
        int position = 0;
        while (matcher.TryFindNext(text, position, out int index, out AddedToken? token))
        {
            EncodeOrdinaryText(text, position, index - position, ids);
            ids.Add(token.Id);
            position = index + token.Content.Length;
        }
        EncodeOrdinaryText(text, position, text.Length - position, ids);
        return [.. ids];
    }

    /// <summary>
    /// The text of <paramref name="ids"/>: their bytes joined, then read as UTF-8, with U+FFFD where the bytes are not
    /// valid UTF-8 (as Hugging Face's decode does). Ids with no token (past <see cref="VocabSize"/>) give no text.
    /// </summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (TokenBytes(id, skipSpecialTokens) is byte[] tokenBytes) bytes.AddRange(tokenBytes);
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>The bytes <paramref name="id"/> stands for; null for an id with no token, or a special one being skipped.</summary>
    internal byte[]? TokenBytes(int id, bool skipSpecialTokens)
    {
        if ((uint)id >= (uint)_bytesOfId.Length || (skipSpecialTokens && _isSpecial[id])) return null;
        return _bytesOfId[id];
    }

    private void EncodeOrdinaryText(string text, int start, int length, List<int> ids)
    {
        if (length == 0) return;
        string segment = start == 0 && length == text.Length ? text : text.Substring(start, length);
        if (_normalizesToNfc) segment = Nfc(segment, start);
        foreach ((int offset, int pieceLength) in Qwen2PreTokenizer.Split(segment))
        {
            ids.AddRange(EncodePiece(segment.AsSpan(offset, pieceLength)));
        }
    }

    private IReadOnlyList<int> EncodePiece(ReadOnlySpan<char> piece)
    {
        if (_idsOfPieceSpan.TryGetValue(piece, out int[]? cached)) return cached;
        IReadOnlyList<int> ids = _bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false);
        if (piece.Length <= MaxCachedPieceLength && _idsOfPiece.Count < MaxCachedPieces) _idsOfPieceSpan.TryAdd(piece, [.. ids]);
        return ids;
    }

    private static string Nfc(string text, int offsetInInput)
    {
        try
        {
            return text.Normalize(NormalizationForm.FormC);
        }
        catch (ArgumentException) when (IndexOfUnpairedSurrogate(text) is int bad and >= 0)
        {
            throw new ArgumentException($"The text has an unpaired UTF-16 surrogate at index {offsetInInput + bad}; pass well-formed text.", "text");
        }
    }

    private static int IndexOfUnpairedSurrogate(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(text[i])) return i;
        }
        return -1;
    }
}
