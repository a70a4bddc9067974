using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Satsub.Admin;
using Satsub.Api.Idempotency;
using Satsub.ApiKeys;
using Satsub.Ledger;
using Satsub.Outbox;
using Satsub.Payments;
using Satsub.Payouts;
using Satsub.Plans;
using Satsub.Subscriptions;
using Satsub.Users;

namespace Satsub.Data;

/// <summary>
/// The one database of Satsub. Each provider has its own subclass so that each keeps its own migrations
/// (<c>Data/Migrations/Sqlite</c>, <c>Data/Migrations/Postgres</c>); the model is the same but for
/// concurrency tokens and how times are stored.
/// </summary>
public abstract class SatsubDbContext(DbContextOptions options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();
    public DbSet<Plan> Plans => Set<Plan>();
    public DbSet<Subscription> Subscriptions => Set<Subscription>();
    public DbSet<Invoice> Invoices => Set<Invoice>();
    public DbSet<PaymentEvent> PaymentEvents => Set<PaymentEvent>();
    public DbSet<LedgerPosting> LedgerPostings => Set<LedgerPosting>();
    public DbSet<LedgerEntry> LedgerEntries => Set<LedgerEntry>();
    public DbSet<Commission> Commissions => Set<Commission>();
    public DbSet<Payout> Payouts => Set<Payout>();
    public DbSet<OutboxMessage> OutboxMessages => Set<OutboxMessage>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Satsub.Refunds.Refund> Refunds => Set<Satsub.Refunds.Refund>();
    public DbSet<ProviderCursor> ProviderCursors => Set<ProviderCursor>();
    public DbSet<Satsub.Operations.AdminFlag> AdminFlags => Set<Satsub.Operations.AdminFlag>();
    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();
    public DbSet<Satsub.Hosting.JobRun> JobRuns => Set<Satsub.Hosting.JobRun>();
    public DbSet<IdempotencyRecord> IdempotencyRecords => Set<IdempotencyRecord>();
    public DbSet<Satsub.Integrations.Webhooks.WebhookEndpoint> WebhookEndpoints => Set<Satsub.Integrations.Webhooks.WebhookEndpoint>();
    public DbSet<Satsub.Integrations.Webhooks.WebhookDelivery> WebhookDeliveries => Set<Satsub.Integrations.Webhooks.WebhookDelivery>();
    public DbSet<Satsub.Transparency.ClosedReport> ClosedReports => Set<Satsub.Transparency.ClosedReport>();
    public DbSet<Satsub.Transparency.ClosedReportPart> ClosedReportParts => Set<Satsub.Transparency.ClosedReportPart>();
    public DbSet<Satsub.Telegram.TelegramUpdateRecord> TelegramUpdates => Set<Satsub.Telegram.TelegramUpdateRecord>();
    public DbSet<Satsub.Telegram.TelegramSend> TelegramSends => Set<Satsub.Telegram.TelegramSend>();
    public DbSet<Satsub.Telegram.TelegramRateWindow> TelegramRateWindows => Set<Satsub.Telegram.TelegramRateWindow>();
    public DbSet<Satsub.Telegram.TelegramUser> TelegramUsers => Set<Satsub.Telegram.TelegramUser>();
    public DbSet<Satsub.Affiliates.Standings.AffiliateStandingRow> AffiliateStandings => Set<Satsub.Affiliates.Standings.AffiliateStandingRow>();
    public DbSet<Satsub.Affiliates.Standings.AffiliateMonthStandingRow> AffiliateMonthStandings => Set<Satsub.Affiliates.Standings.AffiliateMonthStandingRow>();
    public DbSet<Satsub.Affiliates.Standings.AffiliateScorePlaceRow> AffiliateScorePlaces => Set<Satsub.Affiliates.Standings.AffiliateScorePlaceRow>();
    public DbSet<Satsub.Affiliates.Standings.AffiliateCustomerRow> AffiliateCustomers => Set<Satsub.Affiliates.Standings.AffiliateCustomerRow>();
    public DbSet<Satsub.Affiliates.Standings.AffiliateMonthCustomerRow> AffiliateMonthCustomers => Set<Satsub.Affiliates.Standings.AffiliateMonthCustomerRow>();

    public abstract bool IsPostgres { get; }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(SatsubDbContext).Assembly, t => t.Namespace?.StartsWith("Satsub.", StringComparison.Ordinal) == true);
        foreach (var entity in modelBuilder.Model.GetEntityTypes().Where(e => typeof(IVersioned).IsAssignableFrom(e.ClrType)).ToList())
        {
            ConfigureVersion(modelBuilder.Entity(entity.ClrType).Property(nameof(IVersioned.Version)));
        }
    }

    protected abstract void ConfigureVersion(Microsoft.EntityFrameworkCore.Metadata.Builders.PropertyBuilder version);
}

public sealed class PostgresSatsubDbContext(DbContextOptions<PostgresSatsubDbContext> options) : SatsubDbContext(options)
{
    public override bool IsPostgres => true;

    // PostgreSQL's xmin changes on every update of the row: a free, exact row version.
    protected override void ConfigureVersion(Microsoft.EntityFrameworkCore.Metadata.Builders.PropertyBuilder version) =>
        version.IsRowVersion();
}

public sealed class SqliteSatsubDbContext(DbContextOptions<SqliteSatsubDbContext> options) : SatsubDbContext(options)
{
    public override bool IsPostgres => false;

    protected override void ConfigureVersion(Microsoft.EntityFrameworkCore.Metadata.Builders.PropertyBuilder version) =>
        version.IsConcurrencyToken().HasColumnName("version");

    // SQLite cannot compare or order DateTimeOffset stored as text: store UTC microseconds instead.
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UtcMicrosecondsConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<UtcMicrosecondsConverter>();
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        BumpVersions();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        BumpVersions();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    private void BumpVersions()
    {
        foreach (var entry in ChangeTracker.Entries<IVersioned>().Where(e => e.State == EntityState.Modified))
        {
            entry.Entity.Version = unchecked(entry.Entity.Version + 1);
        }
    }

    /// <summary>A time as SQLite stores it (UTC microseconds since 1970), for raw SQL that reads one into a number.</summary>
    internal static DateTimeOffset FromStoredTime(long v) => new(DateTimeOffset.UnixEpoch.Ticks + v * TimeSpan.TicksPerMicrosecond, TimeSpan.Zero);

    private sealed class UtcMicrosecondsConverter() : ValueConverter<DateTimeOffset, long>(
        v => (v.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond,
        v => FromStoredTime(v));
}
