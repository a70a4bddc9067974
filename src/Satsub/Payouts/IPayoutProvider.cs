namespace Satsub.Payouts;

public enum PayoutAttemptOutcome
{
    /// <summary>The money reached the destination.</summary>
    Sent,

    /// <summary>The money did not leave and never will for this attempt: it goes back to the affiliate.</summary>
    Failed,

    /// <summary>Not known yet (in flight, a time-out, an unreachable provider): the payout stays in flight and is reconciled later.</summary>
    InFlight,
}

/// <summary>What a provider says about a payout.</summary>
public sealed record PayoutAttempt(PayoutAttemptOutcome Outcome, string? PaymentHash = null, string? Txid = null, long FeeSats = 0, long? SentSats = null, string? FailureReason = null)
{
    public static PayoutAttempt Sent(long sentSats, long feeSats, string? paymentHash = null, string? txid = null) =>
        new(PayoutAttemptOutcome.Sent, paymentHash, txid, feeSats, sentSats);

    public static PayoutAttempt Failed(string reason, string? paymentHash = null) => new(PayoutAttemptOutcome.Failed, paymentHash, FailureReason: reason);

    public static PayoutAttempt InFlight(string? paymentHash = null) => new(PayoutAttemptOutcome.InFlight, paymentHash);
}

/// <summary>What a provider must know, and Satsub must store, before any money moves (e.g. the invoice a Lightning Address gave).</summary>
public sealed record PayoutPreparation(string Invoice, string PaymentHash);

/// <summary>
/// Sends payouts. <see cref="SendAsync"/> is called only after the claim (and any <see cref="PrepareAsync"/> result) is
/// committed; <see cref="LookupAsync"/> answers for a payout left in flight by a crash or a time-out, and returns null
/// when the provider never heard of it (so it is safe to send again).
/// </summary>
public interface IPayoutProvider
{
    string Name { get; }

    /// <summary>False for the manual provider: the admin pays and marks payouts sent; the worker never claims them.</summary>
    bool SendsAutomatically => true;

    Task<PayoutPreparation?> PrepareAsync(Payout payout, CancellationToken ct) => Task.FromResult<PayoutPreparation?>(null);

    Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct);

    Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct);
}
