using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Payouts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "attempts",
                table: "payouts",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "invoice",
                table: "payouts",
                type: "TEXT",
                maxLength: 7089,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "last_attempt_at",
                table: "payouts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "sent_sats",
                table: "payouts",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_payouts_payment_hash",
                table: "payouts",
                column: "payment_hash",
                unique: true,
                filter: "payment_hash IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_payouts_requested_at",
                table: "payouts",
                column: "requested_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_payouts_payment_hash",
                table: "payouts");

            migrationBuilder.DropIndex(
                name: "ix_payouts_requested_at",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "attempts",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "invoice",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "last_attempt_at",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "sent_sats",
                table: "payouts");
        }
    }
}
