using System.Globalization;

namespace Specialized.Cli.Commands;

/// <summary>Token ids written on a command line: "9707,11,1879".</summary>
internal static class TokenIds
{
    public static bool TryParse(string text, out int[] ids, out string error)
    {
        var parsed = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            {
                ids = [];
                error = $"token ids are comma-separated non-negative integers, e.g. 9707,11,1879; \"{part}\" is not one.";
                return false;
            }
            parsed.Add(id);
        }
        ids = [.. parsed];
        error = "";
        return true;
    }
}
