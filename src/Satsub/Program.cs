using Satsub.Cli;

return await Commands.Build().Parse(args).InvokeAsync();

// WebApplicationFactory in the tests finds the entry point through this type.
public partial class Program;
