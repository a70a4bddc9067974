using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Satsub.Payments;
using Satsub.Payments.Providers.Lnd;

namespace Satsub.Tests.Payments.Providers.Lnd;

/// <summary>The lnd provider's real registration (<see cref="LndModule.AddLnd"/>) over in-memory settings, a fake
/// clock and a log sink that keeps every line written at any level.</summary>
public sealed class LndTestHost : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 1, 15, 12, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider services;

    private LndTestHost(ServiceProvider services, FakeTimeProvider clock, CapturingLoggerProvider logs)
    {
        this.services = services;
        Clock = clock;
        Logs = logs;
    }

    public FakeTimeProvider Clock { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => services;

    public IPaymentProvider Provider => services.GetRequiredKeyedService<IPaymentProvider>(LndPaymentProvider.ProviderName);

    public LndInvoiceWatcher Watcher => services.GetRequiredService<LndInvoiceWatcher>();

    public static Dictionary<string, string?> SettingsFor(FakeLnd fake) => new()
    {
        ["Payments:Lnd:Url"] = fake.Url.ToString(),
        ["Payments:Lnd:MacaroonHex"] = FakeLnd.Macaroon,
        ["Payments:Lnd:TimeoutSeconds"] = "15", // generous for loaded CI machines; the time-out test sets 1
    };

    public static LndTestHost Create(FakeLnd fake, Action<Dictionary<string, string?>>? change = null)
    {
        var settings = SettingsFor(fake);
        change?.Invoke(settings);
        return Create(settings);
    }

    public static LndTestHost Create(IDictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Development" });
        builder.Configuration.AddInMemoryCollection(settings);
        var clock = new FakeTimeProvider(Start);
        var logs = new CapturingLoggerProvider();
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddProvider(logs);
        builder.AddLnd();
        return new LndTestHost(builder.Services.BuildServiceProvider(), clock, logs);
    }

    public void Dispose() => services.Dispose();
}

public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
