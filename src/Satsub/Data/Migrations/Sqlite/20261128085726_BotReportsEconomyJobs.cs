using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class BotReportsEconomyJobs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "schedule_key",
                table: "payouts",
                type: "TEXT",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "review_reason",
                table: "commissions",
                type: "TEXT",
                maxLength: 512,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "closed_reports",
                columns: table => new
                {
                    month = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    csv = table.Column<string>(type: "TEXT", nullable: false),
                    sha256 = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    closed_at = table.Column<long>(type: "INTEGER", nullable: false),
                    signature_address = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    signature_scheme = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    signature_message = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    signature = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    signed_at = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_closed_reports", x => x.month);
                });

            migrationBuilder.CreateTable(
                name: "job_runs",
                columns: table => new
                {
                    job = table.Column<string>(type: "TEXT", maxLength: 100, nullable: false),
                    period_start = table.Column<long>(type: "INTEGER", nullable: false),
                    instance = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    started_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_job_runs", x => new { x.job, x.period_start });
                });

            migrationBuilder.CreateTable(
                name: "telegram_rate_windows",
                columns: table => new
                {
                    bucket = table.Column<string>(type: "TEXT", maxLength: 96, nullable: false),
                    window_second = table.Column<long>(type: "INTEGER", nullable: false),
                    used = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_telegram_rate_windows", x => x.bucket);
                });

            migrationBuilder.CreateTable(
                name: "telegram_sends",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    dedupe_key = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    chat_id = table.Column<long>(type: "INTEGER", nullable: false),
                    kind = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    payload = table.Column<string>(type: "TEXT", nullable: false),
                    status = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false),
                    available_at = table.Column<long>(type: "INTEGER", nullable: false),
                    attempts = table.Column<int>(type: "INTEGER", nullable: false),
                    sent_at = table.Column<long>(type: "INTEGER", nullable: true),
                    message_id = table.Column<long>(type: "INTEGER", nullable: true),
                    last_error = table.Column<string>(type: "TEXT", maxLength: 512, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_telegram_sends", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "telegram_updates",
                columns: table => new
                {
                    update_id = table.Column<long>(type: "INTEGER", nullable: false),
                    received_at = table.Column<long>(type: "INTEGER", nullable: false),
                    error = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_telegram_updates", x => x.update_id);
                });

            migrationBuilder.CreateTable(
                name: "telegram_users",
                columns: table => new
                {
                    user_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    chat_id = table.Column<long>(type: "INTEGER", nullable: false),
                    mute_reminders = table.Column<bool>(type: "INTEGER", nullable: false),
                    mute_earnings = table.Column<bool>(type: "INTEGER", nullable: false),
                    unreachable_at = table.Column<long>(type: "INTEGER", nullable: true),
                    terms_version = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    terms_accepted_at = table.Column<long>(type: "INTEGER", nullable: true),
                    created_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_telegram_users", x => x.user_id);
                    table.ForeignKey(
                        name: "fk_telegram_users_users_user_id",
                        column: x => x.user_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_payouts_user_id_schedule_key",
                table: "payouts",
                columns: new[] { "user_id", "schedule_key" },
                unique: true,
                filter: "schedule_key IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_telegram_sends_chat_id",
                table: "telegram_sends",
                column: "chat_id");

            migrationBuilder.CreateIndex(
                name: "ix_telegram_sends_dedupe_key",
                table: "telegram_sends",
                column: "dedupe_key",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_telegram_sends_status_available_at",
                table: "telegram_sends",
                columns: new[] { "status", "available_at" });

            migrationBuilder.CreateIndex(
                name: "ix_telegram_users_chat_id",
                table: "telegram_users",
                column: "chat_id",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "closed_reports");

            migrationBuilder.DropTable(
                name: "job_runs");

            migrationBuilder.DropTable(
                name: "telegram_rate_windows");

            migrationBuilder.DropTable(
                name: "telegram_sends");

            migrationBuilder.DropTable(
                name: "telegram_updates");

            migrationBuilder.DropTable(
                name: "telegram_users");

            migrationBuilder.DropIndex(
                name: "ix_payouts_user_id_schedule_key",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "schedule_key",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "review_reason",
                table: "commissions");
        }
    }
}
