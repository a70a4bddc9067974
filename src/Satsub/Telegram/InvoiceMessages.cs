using System.Globalization;
using Satsub.Data;
using Satsub.Payments;

namespace Satsub.Telegram;

/// <summary>The invoice message (a QR photo with its caption) and its later states: paid, expired, canceled.</summary>
public static class InvoiceMessages
{
    /// <summary>Telegram's limit for a photo caption.</summary>
    public const int MaxCaption = 1024;

    public static string Key(Guid invoiceId) => $"inv:{invoiceId:N}";

    public static async Task QueueInvoiceAsync(SatsubDbContext db, long chatId, string lang, Invoice invoice, string planName, IConfiguration configuration, DateTimeOffset now, CancellationToken ct)
    {
        var fiat = invoice.FiatAmount is { } f && invoice.FiatCurrency is { } c
            ? BotTexts.Get(lang, "Invoice.Fiat", f.ToString("0.00", CultureInfo.InvariantCulture), c)
            : "";
        var code = invoice.Bolt11 ?? invoice.Address;
        var summary = BotTexts.Get(lang, "Invoice.Caption", BotTexts.Html(planName), invoice.AmountSats, fiat,
            BotTexts.Html(BotTexts.Get(lang, invoice.Method == PaymentMethod.Lightning ? "Button.Lightning" : "Button.Onchain")), BotTexts.Time(invoice.ExpiresAt));
        var withCode = code is null ? summary : summary + "\n\n<code>" + BotTexts.Html(code) + "</code>";
        // A long BOLT11 does not fit in a caption: it then follows in its own message (still tap-to-copy).
        var caption = withCode.Length <= MaxCaption ? withCode : summary;

        var keyboard = new List<List<Button>>();
        if (WalletUrl(invoice, configuration) is { } url) keyboard.Add([new Button(BotTexts.Get(lang, "Button.OpenWallet"), Url: url)]);
        keyboard.Add([new Button(BotTexts.Get(lang, "Button.Check"), $"chk:{invoice.Id:N}"), new Button(BotTexts.Get(lang, "Button.Cancel"), $"cxl:{invoice.Id:N}")]);

        await SendQueue.EnqueueAsync(db, Key(invoice.Id), chatId, SendKinds.Photo, new SendPayload
        {
            Text = caption,
            QrUri = invoice.PaymentUri ?? code,
            Keyboard = keyboard,
        }, now, ct);
        if (code is not null && caption.Length != withCode.Length)
            await SendQueue.MessageAsync(db, Key(invoice.Id) + ":code", chatId, "<code>" + BotTexts.Html(code) + "</code>", null, now, ct);
    }

    /// <summary>
    /// A URL button must be http(s): a provider's checkout page is used as is; a <c>lightning:</c> or <c>bitcoin:</c>
    /// URI goes through Satsub's <c>/pay/{id}</c> redirect when <c>Api:PublicBaseUrl</c> is set, otherwise no button.
    /// </summary>
    public static string? WalletUrl(Invoice invoice, IConfiguration configuration)
    {
        if (invoice.PaymentUri is { } uri && (uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase)))
            return uri;
        var origin = configuration["Api:PublicBaseUrl"];
        if (string.IsNullOrWhiteSpace(origin) || invoice.PaymentUri is null) return null;
        return $"{origin.TrimEnd('/')}/pay/{invoice.Id:D}";
    }

    public static Task QueuePaidAsync(SatsubDbContext db, long chatId, string lang, Guid invoiceId, long amountSats, DateTimeOffset now, CancellationToken ct) =>
        SendQueue.EnqueueAsync(db, Key(invoiceId) + ":paid", chatId, SendKinds.EditCaption, new SendPayload
        {
            Text = BotTexts.Get(lang, "Invoice.Paid", amountSats),
            TargetKey = Key(invoiceId),
        }, now, ct);

    public static Task QueueExpiredAsync(SatsubDbContext db, long chatId, string lang, Invoice invoice, long? messageId, string dedupeKey, DateTimeOffset now, CancellationToken ct) =>
        SendQueue.EnqueueAsync(db, dedupeKey, chatId, SendKinds.EditCaption, new SendPayload
        {
            Text = BotTexts.Get(lang, "Invoice.Expired"),
            MessageId = messageId,
            TargetKey = messageId is null ? Key(invoice.Id) : null,
            Keyboard =
            [
                [new Button(BotTexts.Get(lang, "Button.NewInvoice"), $"buy:{invoice.PlanCode}:{(invoice.Method == PaymentMethod.Lightning ? "ln" : "oc")}")],
                [new Button(BotTexts.Get(lang, "Button.Menu"), "menu")],
            ],
        }, now, ct);
}
