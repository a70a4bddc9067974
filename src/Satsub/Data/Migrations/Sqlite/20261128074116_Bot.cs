using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Bot : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
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
                name: "telegram_rate_windows");

            migrationBuilder.DropTable(
                name: "telegram_sends");

            migrationBuilder.DropTable(
                name: "telegram_updates");

            migrationBuilder.DropTable(
                name: "telegram_users");
        }
    }
}
