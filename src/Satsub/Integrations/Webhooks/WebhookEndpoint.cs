using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Satsub.Data;

namespace Satsub.Integrations.Webhooks;

/// <summary>
/// A receiver of outgoing webhooks: where to POST, which event types, and the secret deliveries are signed with.
/// The secret is shown once, when the endpoint is created, and never returned again.
/// </summary>
public sealed class WebhookEndpoint
{
    public Guid Id { get; set; }
    public string Url { get; set; } = "";

    /// <summary>Event types, comma-separated (<c>payment.settled,user.registered</c>).</summary>
    public string Events { get; set; } = "";

    public string? Description { get; set; }
    public string Secret { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DisabledAt { get; set; }

    public IReadOnlyList<string> EventList => Events.Split(',', StringSplitOptions.RemoveEmptyEntries);

    public bool Subscribes(string type) => EventList.Contains(type, StringComparer.Ordinal);
}

public enum WebhookDeliveryStatus
{
    /// <summary>Waiting for its first attempt (or a redelivery).</summary>
    Pending,
    Succeeded,

    /// <summary>The last attempt failed; the next is due at <see cref="WebhookDelivery.NextAttemptAt"/>.</summary>
    Failed,

    /// <summary>Every attempt failed for 24 hours: given up (a redelivery starts again).</summary>
    Dead,
}

/// <summary>One event for one endpoint: unique per (endpoint, outbox message), so the fan-out cannot queue it twice.</summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; set; }
    public Guid EndpointId { get; set; }
    public long OutboxMessageId { get; set; }
    public string EventType { get; set; } = "";
    public WebhookDeliveryStatus Status { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }

    /// <summary>After this, a failed attempt makes the delivery dead (24 hours after it was queued or redelivered).</summary>
    public DateTimeOffset GiveUpAt { get; set; }

    public int? LastStatusCode { get; set; }

    /// <summary>The status code of each attempt, oldest first, comma-separated; 0 when no answer came (refused, time-out).</summary>
    public string AttemptCodes { get; set; } = "";

    public string? LastError { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
}

internal sealed class WebhookEndpointConfiguration : IEntityTypeConfiguration<WebhookEndpoint>
{
    public void Configure(EntityTypeBuilder<WebhookEndpoint> b)
    {
        b.ToTable("webhook_endpoints");
        b.HasKey(e => e.Id);
        b.Property(e => e.Id).ValueGeneratedNever();
        b.Property(e => e.Url).HasMaxLength(2048).IsRequired();
        b.Property(e => e.Events).HasMaxLength(1024).IsRequired();
        b.Property(e => e.Description).HasMaxLength(500);
        b.Property(e => e.Secret).HasMaxLength(200).IsRequired();
        b.Ignore(e => e.EventList);
    }
}

internal sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> b)
    {
        b.ToTable("webhook_deliveries");
        b.HasKey(d => d.Id);
        b.Property(d => d.Id).ValueGeneratedNever();
        b.Property(d => d.EventType).HasMaxLength(64).IsRequired();
        b.Property(d => d.Status).HasConversion(EnumNames.Converter<WebhookDeliveryStatus>()).HasMaxLength(16);
        b.Property(d => d.AttemptCodes).HasMaxLength(1024).IsRequired();
        b.Property(d => d.LastError).HasMaxLength(512);
        b.HasOne<WebhookEndpoint>().WithMany().HasForeignKey(d => d.EndpointId).OnDelete(DeleteBehavior.Cascade);
        b.HasOne<Satsub.Outbox.OutboxMessage>().WithMany().HasForeignKey(d => d.OutboxMessageId).OnDelete(DeleteBehavior.Restrict);
        b.HasIndex(d => new { d.EndpointId, d.OutboxMessageId }).IsUnique();
        b.HasIndex(d => new { d.Status, d.NextAttemptAt });
        b.HasIndex(d => new { d.EndpointId, d.CreatedAt });
    }
}
