using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class PaymentInbox : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "attempts",
                table: "payment_events",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "next_attempt_at",
                table: "payment_events",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "provider_invoice_id",
                table: "payment_events",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_payment_events_processed_at_next_attempt_at",
                table: "payment_events",
                columns: new[] { "processed_at", "next_attempt_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_payment_events_processed_at_next_attempt_at",
                table: "payment_events");

            migrationBuilder.DropColumn(
                name: "attempts",
                table: "payment_events");

            migrationBuilder.DropColumn(
                name: "next_attempt_at",
                table: "payment_events");

            migrationBuilder.DropColumn(
                name: "provider_invoice_id",
                table: "payment_events");
        }
    }
}
