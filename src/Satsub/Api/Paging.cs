using System.ComponentModel;
using System.Globalization;
using System.Text;

namespace Satsub.Api;

/// <summary>One page of a list.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, [property: Description("Pass as `cursor` for the next page; null on the last page.")] string? NextCursor);

/// <summary>
/// Cursor paging: the cursor is opaque to clients. It encodes a position: an offset into a stable, append-only
/// order (referrals), or the last id seen (the audit log, newest first).
/// </summary>
public static class Paging
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 100;

    public static (long Position, int Limit) Parse(FieldErrors errors, string? cursor, string? limit)
    {
        var take = DefaultLimit;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > MaxLimit))
        {
            errors.Add("limit", $"must be a whole number from 1 to {MaxLimit}.");
            take = DefaultLimit;
        }
        long offset = 0;
        if (!string.IsNullOrEmpty(cursor) && !TryOffset(cursor, out offset)) errors.Add("cursor", "is not a cursor this API gave.");
        return (offset, take);
    }

    public static string Cursor(long offset) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes("o:" + offset.ToString(CultureInfo.InvariantCulture))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryOffset(string cursor, out long offset)
    {
        offset = 0;
        if (cursor.Length > 32) return false;
        var b64 = cursor.Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
        var bytes = new byte[24];
        if (!Convert.TryFromBase64String(b64, bytes, out var written)) return false;
        var text = Encoding.ASCII.GetString(bytes, 0, written);
        return text.StartsWith("o:", StringComparison.Ordinal)
            && long.TryParse(text.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out offset)
            && offset is >= 0 and <= int.MaxValue;
    }
}
