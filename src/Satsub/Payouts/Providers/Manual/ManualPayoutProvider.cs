namespace Satsub.Payouts.Providers.Manual;

/// <summary>
/// The admin pays by hand: approved payouts are exported as CSV (<see cref="PayoutExport"/>), paid from any wallet,
/// and each is marked sent with its txid or payment hash (<see cref="PayoutService.MarkSentAsync"/>). The worker never
/// claims them, so nothing here moves money.
/// </summary>
public sealed class ManualPayoutProvider : IPayoutProvider
{
    public const string ProviderName = "manual";

    public string Name => ProviderName;

    public bool SendsAutomatically => false;

    public Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct) => Task.FromResult(PayoutAttempt.InFlight());

    public Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct) => Task.FromResult<PayoutAttempt?>(PayoutAttempt.InFlight());
}
