using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Satsub.Transparency;

/// <summary>
/// Server-rendered HTML for the public and admin pages: encoding, the page frame with its security headers, the
/// embedded assets (Chart.js from npm, bundled at build time; our stylesheet and chart script) and chart data blocks.
/// </summary>
public static class WebPages
{
    private const string ResourcePrefix = "satsub.assets.";

    /// <summary>No inline script, nothing from another origin.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly Dictionary<string, (byte[] Bytes, string ContentType)> Assets = LoadAssets();

    private static readonly JsonSerializerOptions ChartJson = new(JsonSerializerDefaults.Web);

    public static string H(string? text) => HtmlEncoder.Default.Encode(text ?? "");

    public static string Sats(long sats) => sats.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture) + " sats";

    public static string Percent(int bps) => (bps / 100m).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + "%";

    /// <summary>A chart's data as an inert JSON block, and the canvas that draws it.</summary>
    public static string Chart(string id, string label, string type, IEnumerable<string> labels, IEnumerable<object> datasets, bool stacked = false)
    {
        // Encoded for an HTML script element: '<' cannot end it early.
        var json = JsonSerializer.Serialize(new { type, stacked, labels, datasets }, ChartJson).Replace("<", "\\u003c", StringComparison.Ordinal);
        return $"<div class=\"chart\"><canvas id=\"{id}-canvas\" data-chart=\"{id}\" role=\"img\" aria-label=\"{H(label)}\"></canvas></div>" +
               $"<script type=\"application/json\" id=\"{id}\">{json}</script>";
    }

    public static IResult Page(HttpContext http, string title, string body, int status = 200, bool charts = false)
    {
        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<title>").Append(H(title)).Append("</title>")
            .Append("<link rel=\"stylesheet\" href=\"/assets/satsub.css\">")
            // No favicon request (it would only be a 404).
            .Append("<link rel=\"icon\" href=\"data:,\">")
            .Append("</head><body>")
            .Append(body);
        if (charts) html.Append("<script src=\"/assets/chart.umd.min.js\"></script><script src=\"/assets/charts.js\"></script>");
        html.Append("</body></html>");
        Secure(http);
        return Results.Content(html.ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    public static void Secure(HttpContext http)
    {
        var h = http.Response.Headers;
        h.ContentSecurityPolicy = ContentSecurityPolicy;
        h.XContentTypeOptions = "nosniff";
        h["Referrer-Policy"] = "same-origin";
    }

    public static void MapAssets(IEndpointRouteBuilder app) =>
        app.MapGet("/assets/{name}", (string name, HttpContext http) =>
        {
            if (!Assets.TryGetValue(name, out var asset)) return Results.NotFound();
            http.Response.Headers.CacheControl = "public, max-age=3600";
            http.Response.Headers.XContentTypeOptions = "nosniff";
            return Results.Bytes(asset.Bytes, asset.ContentType);
        }).ExcludeFromDescription();

    private static Dictionary<string, (byte[], string)> LoadAssets()
    {
        var assembly = Assembly.GetExecutingAssembly();
        var assets = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var name = resource[ResourcePrefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                _ => "application/octet-stream",
            };
            assets[name] = (copy.ToArray(), type);
        }
        return assets;
    }
}
