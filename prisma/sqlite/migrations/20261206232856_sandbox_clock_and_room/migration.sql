-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Sandbox" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "clockOffsetSeconds" INTEGER NOT NULL DEFAULT 0,
    "roomId" TEXT
);
INSERT INTO "new_Sandbox" ("createdAt", "id", "name") SELECT "createdAt", "id", "name" FROM "Sandbox";
DROP TABLE "Sandbox";
ALTER TABLE "new_Sandbox" RENAME TO "Sandbox";
CREATE INDEX "Sandbox_roomId_idx" ON "Sandbox"("roomId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
