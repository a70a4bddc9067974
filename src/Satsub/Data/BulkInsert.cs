using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace Satsub.Data;

/// <summary>
/// Inserts many new entities of one type with one statement on PostgreSQL:
/// <c>INSERT INTO t (columns) SELECT * FROM unnest($1::type[], $2::type[], …)</c>, one array per column. EF Core writes
/// one <c>INSERT</c> per row (a settlement batch of 64 sales wrote ~600 of them); this writes one per table, and its text
/// is the same whatever the number of rows, so PostgreSQL parses and plans it once (automatic preparation).
/// The columns come from the EF model (every mapped column but those the database generates: identities and
/// <c>xmin</c>), with the model's value converters applied, so a column added to an entity is written here too.
/// Nothing is tracked and generated keys are not read back; SQLite callers keep <c>DbSet.AddRange</c>.
/// </summary>
public static class BulkInsert
{
    private sealed record Column(string Name, string StoreType, Type ProviderType, Func<object, object?> Value);

    private sealed record Plan(string Sql, Column[] Columns);

    private static readonly ConcurrentDictionary<(IModel, Type), Plan> Plans = new();

    /// <param name="onConflict">Appended after the insert, e.g. <c>ON CONFLICT (dedupe_key) DO NOTHING</c>; null: a conflict fails the statement.</param>
    /// <returns>The number of rows inserted.</returns>
    public static async Task<int> InsertAsync<T>(SatsubDbContext db, IReadOnlyList<T> rows, CancellationToken ct, string? onConflict = null)
        where T : class
    {
        if (!db.IsPostgres) throw new NotSupportedException("BulkInsert is for PostgreSQL; SQLite callers add the entities to the context.");
        if (rows.Count == 0) return 0;
        var transaction = db.Database.CurrentTransaction?.GetDbTransaction() as NpgsqlTransaction
            ?? throw new InvalidOperationException("BulkInsert runs inside the caller's transaction.");
        var plan = Plans.GetOrAdd((db.Model, typeof(T)), static key => PlanFor(key.Item1, key.Item2));
        var sql = onConflict is null ? plan.Sql : plan.Sql + " " + onConflict;
        await using var command = new NpgsqlCommand(sql, transaction.Connection, transaction);
        foreach (var column in plan.Columns)
        {
            var values = Array.CreateInstance(column.ProviderType, rows.Count);
            for (var i = 0; i < rows.Count; i++) values.SetValue(column.Value(rows[i]), i);
            command.Parameters.Add(new NpgsqlParameter { Value = values });
        }
        return await command.ExecuteNonQueryAsync(ct);
    }

    private static Plan PlanFor(IModel model, Type type)
    {
        var entity = model.FindEntityType(type) ?? throw new InvalidOperationException($"{type.Name} is not an entity of the model.");
        var table = entity.GetTableName() ?? throw new InvalidOperationException($"{type.Name} is not mapped to a table.");
        var store = StoreObjectIdentifier.Table(table, entity.GetSchema());
        var columns = new List<Column>();
        foreach (var property in entity.GetProperties())
        {
            if (property.ValueGenerated != ValueGenerated.Never)
            {
                // The database writes these: identity keys and the row version (xmin). Client-generated keys (Guid) are
                // ours; a column with a database default is refused rather than guessed at (EF sends it only when set).
                if (property.IsConcurrencyToken || (property.IsKey() && (property.ClrType == typeof(long) || property.ClrType == typeof(int)))) continue;
                if (!property.IsKey()) throw new NotSupportedException($"{type.Name}.{property.Name} has a database default; BulkInsert does not write such columns.");
            }
            if (property.IsShadowProperty()) throw new NotSupportedException($"{type.Name}.{property.Name} is a shadow property; BulkInsert reads CLR properties.");
            var mapping = property.GetRelationalTypeMapping();
            var converter = mapping.Converter;
            var providerType = converter?.ProviderClrType ?? property.ClrType;
            if (property.IsNullable && providerType.IsValueType && Nullable.GetUnderlyingType(providerType) is null)
                providerType = typeof(Nullable<>).MakeGenericType(providerType);
            var getter = property.GetGetter();
            Func<object, object?> value = converter is null ? e => getter.GetClrValue(e) : e => getter.GetClrValue(e) is { } v ? converter.ConvertToProvider(v) : null;
            if (Nullable.GetUnderlyingType(providerType) == typeof(DateTimeOffset) || providerType == typeof(DateTimeOffset))
            {
                // timestamptz takes UTC offsets only.
                var raw = value;
                value = e => raw(e) is DateTimeOffset at ? at.ToUniversalTime() : null;
            }
            columns.Add(new Column(property.GetColumnName(store) ?? property.GetColumnName(), mapping.StoreType, providerType, value));
        }
        var names = string.Join(", ", columns.Select(c => Quote(c.Name)));
        var arrays = string.Join(", ", columns.Select((c, i) => $"${i + 1}::{c.StoreType}[]"));
        var schema = entity.GetSchema() is { } s ? Quote(s) + "." : "";
        return new Plan($"INSERT INTO {schema}{Quote(table)} ({names}) SELECT * FROM unnest({arrays})", [.. columns]);
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
