using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Satsub.Exports;
using Satsub.Tests.Fixtures;
using Xunit.Abstractions;

namespace Satsub.Tests.Exports;

/// <summary>
/// 200,000 users exported in constant memory. Alone in the process (<see cref="SerialCollection"/>), so the
/// live-heap samples measure this export and nothing else.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class LargeExportTests(ITestOutputHelper output)
{
    private const int Rows = 200_000;

    [Fact]
    public async Task Two_hundred_thousand_users_stream_with_flat_memory_and_an_exact_row_count()
    {
        await using var app = await SatsubServices.StartAsync(DbKind.Postgres);
        var insert = Stopwatch.StartNew();
        await app.DbAsync(db => db.Database.ExecuteSqlRawAsync(
            """
            INSERT INTO users (id, platform, external_id, username, referral_code, created_at, hidden_from_leaderboard)
            SELECT gen_random_uuid(), 'telegram', n::text, CASE WHEN n % 1000 = 0 THEN '=cmd|'' /C calc''!A' || n ELSE 'user_' || n END,
                   'r' || n, TIMESTAMPTZ '2026-01-01' + n * INTERVAL '1 second', false
            FROM generate_series(1, {0}) AS n
            """, Rows));
        insert.Stop();

        var sink = new CountingStream();
        var samples = new List<long>();
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var export = Stopwatch.StartNew();
        long rows;
        await using (var scope = app.Scope())
        await using (var writer = new StreamWriter(sink, new System.Text.UTF8Encoding(false), 64 * 1024, leaveOpen: true))
        {
            rows = await scope.ServiceProvider.GetRequiredService<CsvExporter>().WriteAsync(ExportKind.Users, ExportWindow.All, writer, default,
                progress: n => { if (n % 50_000 == 0) samples.Add(GC.GetTotalMemory(forceFullCollection: true)); });
        }
        export.Stop();

        Assert.Equal(Rows, rows);
        Assert.Equal(Rows + 1, sink.Lines); // the header, then one line per user
        Assert.Equal(Rows / 1000, sink.Formulas); // every hostile username was defused
        var growth = samples.Max() - baseline;
        output.WriteLine($"insert {Rows} rows: {insert.ElapsedMilliseconds} ms; export: {export.ElapsedMilliseconds} ms, {sink.Bytes / 1024 / 1024} MiB; " +
                         $"live heap growth during export: max {growth / 1024} KiB over {samples.Count} samples");
        // Holding the rows (as entities or as text) would grow the heap by at least the file's size.
        Assert.True(growth < sink.Bytes / 8, $"the live heap grew by {growth} bytes while exporting {sink.Bytes} bytes");
        Assert.True(sink.Bytes > 20_000_000, $"only {sink.Bytes} bytes");

        // The window selects exactly the rows of its span: users n=1..3600 were created in the first hour.
        var hour = new CountingStream();
        await using (var scope = app.Scope())
        await using (var writer = new StreamWriter(hour, leaveOpen: true))
            Assert.Equal(3599, await scope.ServiceProvider.GetRequiredService<CsvExporter>().WriteAsync(ExportKind.Users,
                new ExportWindow(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero), new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero)), writer, default));
    }

    /// <summary>Counts bytes, lines and defused formulas (a field starting with an apostrophe) and keeps nothing.</summary>
    private sealed class CountingStream : Stream
    {
        private bool afterComma;

        public long Bytes { get; private set; }
        public long Lines { get; private set; }
        public long Formulas { get; private set; }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Bytes += buffer.Length;
            foreach (var b in buffer)
            {
                if (b == (byte)'\'' && afterComma) Formulas++;
                afterComma = b == (byte)',';
                if (b == (byte)'\n') Lines++;
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Bytes;
        public override long Position { get => Bytes; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
