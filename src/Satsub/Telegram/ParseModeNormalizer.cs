using System.Net.Http.Headers;
using System.Text;

namespace Satsub.Telegram;

/// <summary>
/// Telegram.Bot writes <c>parse_mode</c> as <c>"Html"</c>; the Bot API documents <c>"HTML"</c> (Telegram itself
/// accepts either, but a strict stand-in or proxy need not). This handler rewrites the value to the documented
/// spelling in JSON and multipart bodies, and touches nothing else.
/// </summary>
internal sealed class ParseModeNormalizer : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        switch (request.Content)
        {
            case MultipartFormDataContent multipart:
            {
                var fixedContent = new MultipartFormDataContent();
                foreach (var part in multipart)
                {
                    var name = part.Headers.ContentDisposition?.Name?.Trim('"');
                    if (name == "parse_mode" && await part.ReadAsStringAsync(cancellationToken) == "Html")
                    {
                        var replacement = new StringContent("HTML");
                        replacement.Headers.ContentType = null;
                        replacement.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"parse_mode\"" };
                        fixedContent.Add(replacement);
                    }
                    else
                    {
                        fixedContent.Add(part);
                    }
                }
                request.Content = fixedContent;
                break;
            }
            case { Headers.ContentType.MediaType: "application/json" } json:
            {
                var body = await json.ReadAsStringAsync(cancellationToken);
                if (body.Contains("\"parse_mode\":\"Html\"", StringComparison.Ordinal))
                    request.Content = new StringContent(body.Replace("\"parse_mode\":\"Html\"", "\"parse_mode\":\"HTML\"", StringComparison.Ordinal), Encoding.UTF8, "application/json");
                break;
            }
        }
        return await base.SendAsync(request, cancellationToken);
    }
}
