using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace Satsub.Tests.Fixtures;

/// <summary>
/// Every log line written by every host the tests start (in-process hosts through <see cref="Provider"/>, child
/// processes through <see cref="AddLine"/>), with each line's message, structured values, scopes and exception —
/// and the secrets the tests used. <c>Operations.LogSecretsTests</c>, ordered last, checks no secret leaked.
/// </summary>
public static partial class LogCapture
{
    /// <summary>Beyond this many lines capture stops and the final check fails: a silent cap would hide leaks.</summary>
    public const int MaxLines = 3_000_000;

    private static readonly ConcurrentQueue<string> Lines = new();
    private static readonly ConcurrentDictionary<string, string> Secrets = new(StringComparer.Ordinal);
    private static int count;

    public static bool Overflowed { get; private set; }

    public static int Count => Volatile.Read(ref count);

    public static IEnumerable<string> All => Lines;

    public static IReadOnlyDictionary<string, string> KnownSecrets => Secrets;

    public static void AddLine(string line)
    {
        if (Interlocked.Increment(ref count) > MaxLines)
        {
            Overflowed = true;
            return;
        }
        Lines.Enqueue(line);
    }

    /// <summary>A secret a test used (an API key, a webhook secret, a configured credential): it must never be logged.</summary>
    public static void AddSecret(string? secret, string what)
    {
        // Very short values ("x", "test") would match innocent text; they are not realistic secrets either.
        if (!string.IsNullOrEmpty(secret) && secret.Length >= 12) Secrets.TryAdd(secret, what);
    }

    /// <summary>Registers every configured value whose key names a credential.</summary>
    public static void AddSecretsFromSettings(IEnumerable<KeyValuePair<string, string?>> settings)
    {
        foreach (var (key, value) in settings)
        {
            if (value is null) continue;
            var leaf = key.Split(':', '_').Last();
            if (SecretKey().IsMatch(leaf)) AddSecret(value, key);
            if (PasswordInConnectionString().Match(value) is { Success: true } m && m.Groups[1].Value.Length >= 12) AddSecret(m.Groups[1].Value, key + " password");
        }
    }

    [GeneratedRegex("(secret|apikey|api_key|token|password|macaroon|macaroonhex|privatekey|wif|seed)$", RegexOptions.IgnoreCase)]
    private static partial Regex SecretKey();

    [GeneratedRegex("Password=([^;]+)", RegexOptions.IgnoreCase)]
    private static partial Regex PasswordInConnectionString();

    public static ILoggerProvider Provider { get; } = new CaptureProvider();

    /// <summary>Adds the capture to a host's logging: Information and above of every category, whatever the host's
    /// own levels (but EF's per-command lines, which carry SQL text without values, only from Warning: volume).</summary>
    public static ILoggingBuilder AddLogCapture(this ILoggingBuilder logging)
    {
        logging.AddProvider(Provider);
        logging.AddFilter<CaptureProvider>(null, LogLevel.Information);
        logging.AddFilter<CaptureProvider>("Microsoft.EntityFrameworkCore.Database.Command", LogLevel.Warning);
        return logging;
    }

    public sealed class CaptureProvider : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

        public ILogger CreateLogger(string categoryName) => new CaptureLogger(categoryName, this);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

        public void Dispose() { }

        private sealed class CaptureLogger(string category, CaptureProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner.scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var line = new StringBuilder().Append(logLevel).Append(' ').Append(category).Append(": ").Append(formatter(state, exception));
                if (state is IEnumerable<KeyValuePair<string, object?>> values)
                    foreach (var (k, v) in values) line.Append(" |").Append(k).Append('=').Append(v);
                owner.scopes.ForEachScope((scope, sb) => sb.Append(" |scope=").Append(scope is IEnumerable<KeyValuePair<string, object>> kv
                    ? string.Join(",", kv.Select(p => p.Key + "=" + p.Value)) : scope), line);
                if (exception is not null) line.Append(" |exception=").Append(exception);
                AddLine(line.ToString());
            }
        }
    }
}
