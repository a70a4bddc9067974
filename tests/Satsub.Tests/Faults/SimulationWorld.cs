using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payouts;

namespace Satsub.Tests.Faults;

/// <summary>Thrown by <see cref="CrashSwitch"/>: the process "dies" here, so whatever was not committed is lost.</summary>
public sealed class SimulatedCrash(string where) : Exception("simulated crash " + where);

/// <summary>
/// Where the next unit of work dies, if anywhere: at its n-th database command, just before its commit, or just after
/// it (the work is done, but the caller never learns it). Fires once, then disarms.
/// </summary>
public sealed class CrashSwitch
{
    public enum Point { None, Command, BeforeCommit, AfterCommit }

    private Point point;
    private int commandsLeft;

    public bool Fired { get; private set; }

    public void Arm(Point at, int afterCommands = 0)
    {
        point = at;
        commandsLeft = afterCommands;
        Fired = false;
    }

    public void Disarm()
    {
        point = Point.None;
        Fired = false;
    }

    internal void OnCommand()
    {
        if (point != Point.Command) return;
        if (commandsLeft-- > 0) return;
        Fire($"at a database command");
    }

    internal void OnCommit(bool committed)
    {
        if (point == Point.BeforeCommit && !committed) Fire("before a commit");
        if (point == Point.AfterCommit && committed) Fire("after a commit");
    }

    private void Fire(string where)
    {
        point = Point.None;
        Fired = true;
        throw new SimulatedCrash(where);
    }

    public IInterceptor[] Interceptors => [new CommandCrash(this), new CommitCrash(this)];

    private sealed class CommandCrash(CrashSwitch s) : DbCommandInterceptor
    {
        public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
        { s.OnCommand(); return result; }

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken ct = default)
        { s.OnCommand(); return ValueTask.FromResult(result); }

        public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
        { s.OnCommand(); return result; }

        public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken ct = default)
        { s.OnCommand(); return ValueTask.FromResult(result); }

        public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
        { s.OnCommand(); return result; }

        public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken ct = default)
        { s.OnCommand(); return ValueTask.FromResult(result); }
    }

    private sealed class CommitCrash(CrashSwitch s) : DbTransactionInterceptor
    {
        public override InterceptionResult TransactionCommitting(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result)
        { s.OnCommit(false); return result; }

        public override ValueTask<InterceptionResult> TransactionCommittingAsync(DbTransaction transaction, TransactionEventData eventData, InterceptionResult result, CancellationToken ct = default)
        { s.OnCommit(false); return ValueTask.FromResult(result); }

        public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => s.OnCommit(true);

        public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken ct = default)
        { s.OnCommit(true); return Task.CompletedTask; }
    }
}

/// <summary>
/// The payment provider of the simulation (registered as <c>sandbox</c>): deterministic invoice ids, a paid flag the
/// simulation sets, and invoice creation that fails when told to (an outage).
/// </summary>
public sealed class SimPaymentProvider : IPaymentProvider
{
    private int next;
    public ConcurrentDictionary<string, bool> Paid { get; } = new(StringComparer.Ordinal);
    public bool Down { get; set; }
    public string Name => "sandbox";
    public bool ConvertsFiat => false;

    public void Reset()
    {
        Paid.Clear();
        Down = false;
    }

    public Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct)
    {
        if (Down) throw new PaymentProviderUnavailableException(Name, "simulated outage");
        var id = $"sim_{Interlocked.Increment(ref next)}";
        Paid[id] = false;
        return Task.FromResult(new ProviderInvoice(id, Bolt11: null, Address: null, "sim:" + id, request.ExpiresAt));
    }

    public Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct)
    {
        if (Down) throw new PaymentProviderUnavailableException(Name, "simulated outage");
        return Task.FromResult(new ProviderInvoiceState(providerInvoiceId,
            Paid.GetValueOrDefault(providerInvoiceId) ? ProviderInvoiceStatus.Settled : ProviderInvoiceStatus.New));
    }
}

/// <summary>
/// The payout provider of the simulation (as <c>sandbox</c>): each send succeeds, fails, or "times out" having sent or
/// not, as the seed's random source says; lookups answer what really happened, as a wallet would.
/// </summary>
public sealed class SimPayoutProvider : IPayoutProvider
{
    private readonly ConcurrentDictionary<Guid, PayoutAttempt> sent = new();
    public Random Random { get; set; } = new(0);
    public string Name => "sandbox";

    public void Reset() => sent.Clear();

    public Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct)
    {
        if (sent.TryGetValue(payout.Id, out var before)) return Task.FromResult(before);
        switch (Random.Next(10))
        {
            case < 5:
                return Task.FromResult(sent[payout.Id] = PayoutAttempt.Sent(payout.AmountSats, 0, paymentHash: "sim-" + payout.Id.ToString("N")));
            case < 7:
                return Task.FromResult(PayoutAttempt.Failed("simulated: no route"));
            case < 9:
                sent[payout.Id] = PayoutAttempt.Sent(payout.AmountSats, 0, paymentHash: "sim-" + payout.Id.ToString("N"));
                throw new HttpRequestException("simulated: the answer was lost (the payment went out)");
            default:
                throw new HttpRequestException("simulated: the request was lost (nothing went out)");
        }
    }

    public Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct) =>
        Task.FromResult(sent.TryGetValue(payout.Id, out var a) ? a : null);
}

public static class CrashChain
{
    public static bool IsCrash(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is SimulatedCrash) return true;
        return false;
    }

    public static DomainException? Domain(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is DomainException d) return d;
        return null;
    }
}
