-- CreateTable
CREATE TABLE "Room" (
    "id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "baseSandboxId" TEXT NOT NULL,
    "dataset" TEXT NOT NULL,
    "exercises" TEXT NOT NULL,
    "endsAt" TIMESTAMP(3) NOT NULL,
    "closedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Room_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Attendee" (
    "id" TEXT NOT NULL,
    "roomId" TEXT NOT NULL,
    "sandboxId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "sessionHash" TEXT NOT NULL,
    "linkHash" TEXT NOT NULL,
    "joinedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Attendee_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Room_code_key" ON "Room"("code");

-- CreateIndex
CREATE UNIQUE INDEX "Room_baseSandboxId_key" ON "Room"("baseSandboxId");

-- CreateIndex
CREATE UNIQUE INDEX "Attendee_sandboxId_key" ON "Attendee"("sandboxId");

-- CreateIndex
CREATE UNIQUE INDEX "Attendee_sessionHash_key" ON "Attendee"("sessionHash");

-- CreateIndex
CREATE UNIQUE INDEX "Attendee_linkHash_key" ON "Attendee"("linkHash");

-- CreateIndex
CREATE INDEX "Attendee_roomId_joinedAt_idx" ON "Attendee"("roomId", "joinedAt");
