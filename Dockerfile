# Satsub in a container: built on the SDK image, run on the ASP.NET runtime image as a
# non-root user. Configuration comes from environment variables (see docs/configuration.md and
# docs/deployment.md); nothing secret is baked into the image.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props global.json* nuget.config* ./
COPY src/Satsub/Satsub.csproj src/Satsub/
RUN dotnet restore src/Satsub/Satsub.csproj
COPY src/ src/
RUN dotnet publish src/Satsub/Satsub.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
# The embedded SQLite database (when Database:Provider=sqlite) lives here; mount a volume on it.
RUN mkdir -p /app/data && chown -R app:app /app/data
USER app
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    DOTNET_gcServer=0
EXPOSE 8080
# The runtime image has no curl: let the orchestrator or the reverse proxy probe /health/ready.
ENTRYPOINT ["/app/satsub"]
CMD ["serve"]
