using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using Satsub.Data;

namespace Satsub.Transparency;

/// <summary>What writing a report produced: its row count, totals and digest.</summary>
public sealed record ReportSummary(long Rows, ReportTotals Totals, string Sha256);

/// <summary>
/// Writes a period's canonical CSV as it reads the ledger: rows come from <see cref="ReportBuilder.StreamAsync"/> page by
/// page, go into a part of up to <see cref="PartChars"/> characters handed to a sink when full, and are hashed (SHA-256 of
/// the UTF-8 bytes) and totalled on the way. Memory is bounded by a page and a part, not by the month.
/// </summary>
public static class ReportWriter
{
    /// <summary>About 512 KiB of text per part (the CSV is ASCII but for plan codes).</summary>
    public const int PartChars = 512 * 1024;

    public static async Task<ReportSummary> WriteAsync(SatsubDbContext db, DateTimeOffset from, DateTimeOffset to,
        Func<string, CancellationToken, Task> sink, CancellationToken ct, int pageSize = ReportBuilder.DefaultPageSize, int partChars = PartChars)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var totals = new ReportTotalsBuilder();
        // One buffer of a part's size, reused: appending never links chunks, clearing never reallocates.
        var part = new StringBuilder(partChars + 1024).Append(ReportCsv.Header).Append('\n');
        var bytes = new byte[16 * 1024];
        await foreach (var row in ReportBuilder.StreamAsync(db, from, to, ct, pageSize))
        {
            ReportCsv.AppendLine(part, row);
            totals.Add(row);
            if (part.Length >= partChars) await FlushAsync(part, hash, bytes, sink, ct);
        }
        // The last part, unless the last row filled one exactly: a report always has one part at least (the header).
        if (part.Length > 0) await FlushAsync(part, hash, bytes, sink, ct);
        return new ReportSummary(totals.Rows, totals.Build(), Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    private static async Task FlushAsync(StringBuilder part, IncrementalHash hash, byte[] bytes, Func<string, CancellationToken, Task> sink, CancellationToken ct)
    {
        var text = part.ToString();
        part.Clear();
        Hash(text, hash, bytes);
        await sink(text, ct);
    }

    /// <summary>Hashes the UTF-8 bytes of the text through a small buffer (a surrogate pair is never split between two fills).</summary>
    private static void Hash(string text, IncrementalHash hash, byte[] bytes)
    {
        var chars = text.AsSpan();
        while (true)
        {
            var status = Utf8.FromUtf16(chars, bytes, out var read, out var written);
            hash.AppendData(bytes, 0, written);
            if (status == OperationStatus.Done) return;
            chars = chars[read..];
        }
    }
}
