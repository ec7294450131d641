-- CreateTable
CREATE TABLE "BulkExportJob" (
    "id" TEXT NOT NULL,
    "sandboxId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "level" TEXT NOT NULL,
    "groupId" TEXT,
    "request" TEXT NOT NULL,
    "params" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "progress" TEXT,
    "transactionTime" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "owner" TEXT,
    "heartbeatAt" TIMESTAMP(3),
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "finishedAt" TIMESTAMP(3),
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "output" TEXT,
    "errors" TEXT,
    "retryAfter" INTEGER NOT NULL DEFAULT 2,
    "lastPollAt" TIMESTAMP(3),

    CONSTRAINT "BulkExportJob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BulkExportChunk" (
    "jobId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "lines" INTEGER NOT NULL,
    "content" TEXT NOT NULL,

    CONSTRAINT "BulkExportChunk_pkey" PRIMARY KEY ("jobId","type","seq")
);

-- CreateIndex
CREATE INDEX "BulkExportJob_sandboxId_clientId_idx" ON "BulkExportJob"("sandboxId", "clientId");

-- CreateIndex
CREATE INDEX "BulkExportJob_status_idx" ON "BulkExportJob"("status");
