-- CreateTable
CREATE TABLE "BulkExportJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sandboxId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "level" TEXT NOT NULL,
    "groupId" TEXT,
    "request" TEXT NOT NULL,
    "params" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "progress" TEXT,
    "transactionTime" DATETIME NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "owner" TEXT,
    "heartbeatAt" DATETIME,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "finishedAt" DATETIME,
    "expiresAt" DATETIME NOT NULL,
    "output" TEXT,
    "errors" TEXT,
    "retryAfter" INTEGER NOT NULL DEFAULT 2,
    "lastPollAt" DATETIME
);

-- CreateTable
CREATE TABLE "BulkExportChunk" (
    "jobId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "lines" INTEGER NOT NULL,
    "content" TEXT NOT NULL,

    PRIMARY KEY ("jobId", "type", "seq")
);

-- CreateIndex
CREATE INDEX "BulkExportJob_sandboxId_clientId_idx" ON "BulkExportJob"("sandboxId", "clientId");

-- CreateIndex
CREATE INDEX "BulkExportJob_status_idx" ON "BulkExportJob"("status");
