using Microsoft.Extensions.Options;

namespace Satsub.Data;

public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary><c>sqlite</c> (the embedded default) or <c>postgres</c>.</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>Apply pending migrations when <c>satsub serve</c> starts.</summary>
    public bool MigrateOnStart { get; set; } = true;

    public bool IsPostgres => string.Equals(Provider, "postgres", StringComparison.OrdinalIgnoreCase);
}

internal sealed class DatabaseOptionsValidator(Microsoft.Extensions.Configuration.IConfiguration configuration) : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var failures = new List<string>();
        if (!string.Equals(options.Provider, "sqlite", StringComparison.OrdinalIgnoreCase) && !options.IsPostgres)
            failures.Add($"Database:Provider must be 'sqlite' or 'postgres' (was '{options.Provider}').");
        if (options.IsPostgres && string.IsNullOrWhiteSpace(configuration.GetConnectionString("Satsub")))
            failures.Add("ConnectionStrings:Satsub is required when Database:Provider is 'postgres'.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
