using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Specialized.Models;

/// <summary>Where a piece of config.json sits: a character range and the 1-based line and column of its start.</summary>
public readonly record struct TextPosition(int Offset, int Length, int Line, int Column)
{
    public override string ToString() => $"({Line},{Column})";
}

/// <summary>A parsed JSON value that remembers where it came from, so diagnostics can point at it.</summary>
public abstract class JsonNode
{
    protected JsonNode(TextPosition position) => Position = position;

    public TextPosition Position { get; }

    /// <summary>The JSON type name used in messages: object, array, string, number, boolean or null.</summary>
    public abstract string Kind { get; }
}

public sealed class JsonObject : JsonNode
{
    private readonly List<JsonMember> _members;

    public JsonObject(TextPosition position, List<JsonMember> members) : base(position) => _members = members;

    public IReadOnlyList<JsonMember> Members => _members;
    public override string Kind => "object";

    /// <summary>The member with this key; when a key repeats, the last one wins, as in Python's json module.</summary>
    public JsonMember? Find(string key)
    {
        for (int i = _members.Count - 1; i >= 0; i--)
        {
            if (_members[i].Key == key) return _members[i];
        }
        return null;
    }
}

public sealed record JsonMember(string Key, TextPosition KeyPosition, JsonNode Value);

public sealed class JsonArray : JsonNode
{
    public JsonArray(TextPosition position, List<JsonNode> items) : base(position) => Items = items;
    public IReadOnlyList<JsonNode> Items { get; }
    public override string Kind => "array";
}

public sealed class JsonString : JsonNode
{
    public JsonString(TextPosition position, string value) : base(position) => Value = value;
    public string Value { get; }
    public override string Kind => "string";
}

public sealed class JsonNumber : JsonNode
{
    private static readonly char[] s_nonInteger = { '.', 'e', 'E' };

    public JsonNumber(TextPosition position, string text) : base(position) => Text = text;

    /// <summary>The literal as written, e.g. <c>1e-06</c> or <c>896</c>.</summary>
    public string Text { get; }
    public override string Kind => "number";

    /// <summary>Written without a fraction or an exponent, so an integer however large.</summary>
    public bool IsInteger => Text.IndexOfAny(s_nonInteger) < 0;

    public bool TryGetInt32(out int value) =>
        int.TryParse(Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);

    /// <summary>
    /// False for a literal beyond double's range (<c>1e999</c>): .NET Core reads it as infinity, .NET Framework
    /// (where Visual Studio runs the generator) refuses it, and neither is a number the emitted code can hold.
    /// </summary>
    public bool TryGetFiniteDouble(out double value) =>
        double.TryParse(Text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && !double.IsInfinity(value);
}

public sealed class JsonBool : JsonNode
{
    public JsonBool(TextPosition position, bool value) : base(position) => Value = value;
    public bool Value { get; }
    public override string Kind => "boolean";
}

public sealed class JsonNull : JsonNode
{
    public JsonNull(TextPosition position) : base(position) { }
    public override string Kind => "null";
}

public sealed class JsonSyntaxException : Exception
{
    public JsonSyntaxException(string message, TextPosition position) : base(message) => Position = position;
    public TextPosition Position { get; }
}

/// <summary>
/// A small strict JSON (RFC 8259) reader that keeps line and column of every value. It exists because
/// System.Text.Json cannot be loaded reliably inside a Roslyn analyzer; the runtime shares it so that a
/// checkpoint's config.json is judged by exactly the rules the build used.
/// </summary>
public sealed class JsonReader
{
    private const int MaxDepth = 64;
    private readonly string _text;
    private int _pos;
    private int _line = 1;
    private int _lineStart;

    private JsonReader(string text) => _text = text;

    public static JsonNode Parse(string text)
    {
        var reader = new JsonReader(text);
        reader.SkipWhitespace();
        JsonNode root = reader.ReadValue(0);
        reader.SkipWhitespace();
        if (reader._pos < text.Length) throw reader.Error("unexpected text after the end of the JSON value");
        return root;
    }

    private TextPosition Here(int length = 1) => new(_pos, length, _line, _pos - _lineStart + 1);

    private JsonSyntaxException Error(string message) => new(message, Here());

    private TextPosition From(TextPosition start) => new(start.Offset, _pos - start.Offset, start.Line, start.Column);

    private void SkipWhitespace()
    {
        while (_pos < _text.Length)
        {
            char c = _text[_pos];
            if (c == '\n')
            {
                _pos++;
                _line++;
                _lineStart = _pos;
            }
            else if (c == ' ' || c == '\t' || c == '\r') _pos++;
            else break;
        }
    }

    private JsonNode ReadValue(int depth)
    {
        if (depth > MaxDepth) throw Error($"nesting deeper than {MaxDepth} levels");
        if (_pos >= _text.Length) throw Error("unexpected end of file, expected a value");
        char c = _text[_pos];
        switch (c)
        {
            case '{': return ReadObject(depth);
            case '[': return ReadArray(depth);
            case '"':
                {
                    TextPosition start = Here();
                    string s = ReadString();
                    return new JsonString(From(start), s);
                }
            case 't': return ReadLiteral("true", p => new JsonBool(p, true));
            case 'f': return ReadLiteral("false", p => new JsonBool(p, false));
            case 'n': return ReadLiteral("null", p => new JsonNull(p));
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                throw Error($"unexpected character '{Printable(c)}', expected a value");
        }
    }

    private JsonNode ReadLiteral(string word, Func<TextPosition, JsonNode> make)
    {
        TextPosition start = Here();
        if (string.CompareOrdinal(_text, _pos, word, 0, word.Length) != 0)
        {
            throw Error($"invalid literal, expected '{word}'");
        }
        _pos += word.Length;
        return make(From(start));
    }

    private JsonObject ReadObject(int depth)
    {
        TextPosition start = Here();
        _pos++; // {
        var members = new List<JsonMember>();
        SkipWhitespace();
        if (Peek() == '}')
        {
            _pos++;
            return new JsonObject(From(start), members);
        }
        while (true)
        {
            SkipWhitespace();
            if (Peek() != '"') throw Error(members.Count == 0 ? "expected a property name or '}'" : "expected a property name");
            TextPosition keyStart = Here();
            string key = ReadString();
            TextPosition keyPosition = From(keyStart);
            SkipWhitespace();
            if (Peek() != ':') throw Error($"expected ':' after property name \"{key}\"");
            _pos++;
            SkipWhitespace();
            JsonNode value = ReadValue(depth + 1);
            members.Add(new JsonMember(key, keyPosition, value));
            SkipWhitespace();
            char c = Peek();
            if (c == ',') { _pos++; continue; }
            if (c == '}') { _pos++; return new JsonObject(From(start), members); }
            throw Error(_pos >= _text.Length ? "unexpected end of file, expected ',' or '}'" : $"expected ',' or '}}' but found '{Printable(c)}'");
        }
    }

    private JsonArray ReadArray(int depth)
    {
        TextPosition start = Here();
        _pos++; // [
        var items = new List<JsonNode>();
        SkipWhitespace();
        if (Peek() == ']')
        {
            _pos++;
            return new JsonArray(From(start), items);
        }
        while (true)
        {
            SkipWhitespace();
            items.Add(ReadValue(depth + 1));
            SkipWhitespace();
            char c = Peek();
            if (c == ',') { _pos++; continue; }
            if (c == ']') { _pos++; return new JsonArray(From(start), items); }
            throw Error(_pos >= _text.Length ? "unexpected end of file, expected ',' or ']'" : $"expected ',' or ']' but found '{Printable(c)}'");
        }
    }

    private string ReadString()
    {
        _pos++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _text.Length) throw Error("unterminated string");
            char c = _text[_pos];
            if (c == '"')
            {
                _pos++;
                return sb.ToString();
            }
            if (c < 0x20) throw Error("control character in string (escape it)");
            if (c != '\\')
            {
                sb.Append(c);
                _pos++;
                continue;
            }
            _pos++;
            if (_pos >= _text.Length) throw Error("unterminated escape sequence");
            char e = _text[_pos++];
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    if (_pos + 4 > _text.Length) throw Error("truncated \\u escape");
                    int code = 0;
                    for (int i = 0; i < 4; i++)
                    {
                        int d = HexValue(_text[_pos + i]);
                        if (d < 0) throw Error("invalid hex digit in \\u escape");
                        code = (code << 4) | d;
                    }
                    _pos += 4;
                    sb.Append((char)code);
                    break;
                default:
                    _pos--;
                    throw Error($"invalid escape '\\{Printable(e)}'");
            }
        }
    }

    private JsonNumber ReadNumber()
    {
        TextPosition start = Here();
        if (Peek() == '-') _pos++;
        if (Peek() == '0') _pos++;
        else if (IsDigit(Peek())) { while (IsDigit(Peek())) _pos++; }
        else throw Error("invalid number");
        if (Peek() == '.')
        {
            _pos++;
            if (!IsDigit(Peek())) throw Error("invalid number: expected a digit after '.'");
            while (IsDigit(Peek())) _pos++;
        }
        if (Peek() == 'e' || Peek() == 'E')
        {
            _pos++;
            if (Peek() == '+' || Peek() == '-') _pos++;
            if (!IsDigit(Peek())) throw Error("invalid number: expected a digit in the exponent");
            while (IsDigit(Peek())) _pos++;
        }
        return new JsonNumber(From(start), _text.Substring(start.Offset, _pos - start.Offset));
    }

    private char Peek() => _pos < _text.Length ? _text[_pos] : '\0';

    private static bool IsDigit(char c) => c >= '0' && c <= '9';

    private static int HexValue(char c) =>
        c >= '0' && c <= '9' ? c - '0' :
        c >= 'a' && c <= 'f' ? c - 'a' + 10 :
        c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

    private static string Printable(char c) => c < 0x20 ? $"\\u{(int)c:x4}" : c.ToString();
}
