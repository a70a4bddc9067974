using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using QRCoder;
using Satsub.Data;

namespace Satsub.Payments;

/// <summary>
/// <c>GET /api/v1/invoices/{invoice_id}/qr.png</c>: the invoice's payment URI (BIP21 <c>bitcoin:</c>, <c>lightning:</c>,
/// or the provider's payment link) as a QR code, for the bot and the web pages. No key: the id is unguessable
/// and the picture holds only what the buyer is shown anyway.
/// </summary>
public static class InvoiceQrApi
{
    public static IEndpointRouteBuilder MapInvoiceQr(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/invoices/{invoice_id}/qr.png", GetAsync)
            .WithName("GetInvoiceQr")
            .WithSummary("The invoice's payment URI as a QR code (PNG).")
            .AllowAnonymous();
        return app;
    }

    internal static async Task<Results<FileContentHttpResult, NotFound<ProblemDetails>>> GetAsync(
        [FromRoute(Name = "invoice_id")] string invoiceId, SatsubDbContext db, CancellationToken ct)
    {
        var uri = Guid.TryParse(invoiceId, out var id)
            ? await db.Invoices.AsNoTracking().Where(i => i.Id == id).Select(i => i.PaymentUri).SingleOrDefaultAsync(ct)
            : null;
        if (string.IsNullOrEmpty(uri))
            return TypedResults.NotFound(new ProblemDetails { Title = "Not found", Status = 404, Detail = "No such invoice.", Extensions = { ["code"] = "invoice_not_found" } });
        return TypedResults.File(Render(uri), "image/png");
    }

    public static byte[] Render(string paymentUri)
    {
        // Wallets scan upper-case bech32 more reliably and the QR is smaller in alphanumeric mode.
        var payload = paymentUri.StartsWith("lightning:", StringComparison.OrdinalIgnoreCase) ? paymentUri.ToUpperInvariant() : paymentUri;
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(payload, QRCodeGenerator.ECCLevel.M);
        return new PngByteQRCode(data).GetGraphic(8);
    }
}
