-- CreateTable
CREATE TABLE "Sandbox" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "Resource" (
    "sandboxId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "versionId" INTEGER NOT NULL,
    "lastUpdated" DATETIME NOT NULL,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "content" TEXT NOT NULL,

    PRIMARY KEY ("sandboxId", "type", "id")
);

-- CreateTable
CREATE TABLE "ResourceVersion" (
    "sandboxId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "versionId" INTEGER NOT NULL,
    "lastUpdated" DATETIME NOT NULL,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "method" TEXT NOT NULL,
    "content" TEXT NOT NULL,

    PRIMARY KEY ("sandboxId", "type", "id", "versionId")
);

-- CreateTable
CREATE TABLE "CompartmentMember" (
    "sandboxId" TEXT NOT NULL,
    "patientId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "resourceId" TEXT NOT NULL,

    PRIMARY KEY ("sandboxId", "patientId", "type", "resourceId")
);

-- CreateTable
CREATE TABLE "SearchToken" (
    "rowId" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sandboxId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "resourceId" TEXT NOT NULL,
    "param" TEXT NOT NULL,
    "system" TEXT,
    "code" TEXT,
    "text" TEXT
);

-- CreateTable
CREATE TABLE "SearchString" (
    "rowId" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sandboxId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "resourceId" TEXT NOT NULL,
    "param" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "exact" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "SearchDate" (
    "rowId" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sandboxId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "resourceId" TEXT NOT NULL,
    "param" TEXT NOT NULL,
    "start" REAL NOT NULL,
    "end" REAL NOT NULL
);

-- CreateTable
CREATE TABLE "SearchReference" (
    "rowId" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sandboxId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "resourceId" TEXT NOT NULL,
    "param" TEXT NOT NULL,
    "targetType" TEXT NOT NULL,
    "targetId" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "SearchQuantity" (
    "rowId" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sandboxId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "resourceId" TEXT NOT NULL,
    "param" TEXT NOT NULL,
    "value" REAL NOT NULL,
    "system" TEXT,
    "code" TEXT
);

-- CreateTable
CREATE TABLE "Client" (
    "sandboxId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "clientType" TEXT NOT NULL,
    "tokenEndpointAuthMethod" TEXT NOT NULL,
    "secretHash" TEXT,
    "redirectUris" TEXT NOT NULL,
    "launchUris" TEXT NOT NULL DEFAULT '[]',
    "scope" TEXT NOT NULL,
    "grantTypes" TEXT NOT NULL,
    "jwks" TEXT,
    "jwksUri" TEXT,
    "pkceRequired" BOOLEAN NOT NULL DEFAULT true,
    "metadata" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Launch" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sandboxId" TEXT NOT NULL,
    "clientId" TEXT,
    "patientId" TEXT,
    "encounterId" TEXT,
    "userId" TEXT,
    "options" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Interaction" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sandboxId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "params" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT '{}',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Grant" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sandboxId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "userId" TEXT,
    "scope" TEXT NOT NULL,
    "context" TEXT NOT NULL DEFAULT '{}',
    "launchId" TEXT,
    "sessionId" TEXT,
    "revoked" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "AuthCode" (
    "codeHash" TEXT NOT NULL PRIMARY KEY,
    "grantId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "redirectUri" TEXT NOT NULL,
    "codeChallenge" TEXT,
    "codeChallengeMethod" TEXT,
    "nonce" TEXT,
    "used" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Token" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sandboxId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "grantId" TEXT,
    "clientId" TEXT NOT NULL,
    "userId" TEXT,
    "patientId" TEXT,
    "encounterId" TEXT,
    "scope" TEXT NOT NULL,
    "tokenHash" TEXT,
    "parentId" TEXT,
    "revoked" BOOLEAN NOT NULL DEFAULT false,
    "rotated" BOOLEAN NOT NULL DEFAULT false,
    "issuedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AssertionJti" (
    "clientId" TEXT NOT NULL,
    "jti" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,

    PRIMARY KEY ("clientId", "jti")
);

-- CreateTable
CREATE TABLE "SigningKey" (
    "kid" TEXT NOT NULL PRIMARY KEY,
    "alg" TEXT NOT NULL,
    "privateJwk" TEXT NOT NULL,
    "publicJwk" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retiredAt" DATETIME
);

-- CreateTable
CREATE TABLE "AuditRecord" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sandboxId" TEXT NOT NULL,
    "at" DATETIME NOT NULL,
    "kind" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "resourceType" TEXT,
    "resourceId" TEXT,
    "clientId" TEXT,
    "userId" TEXT,
    "patientId" TEXT,
    "launchId" TEXT,
    "scopes" TEXT,
    "status" INTEGER NOT NULL,
    "errorCode" TEXT,
    "detail" TEXT,
    "resultCount" INTEGER,
    "latencyMs" REAL NOT NULL,
    "ip" TEXT,
    "userAgent" TEXT,
    "origin" TEXT,
    "flags" TEXT
);

-- CreateTable
CREATE TABLE "RateLimitWindow" (
    "key" TEXT NOT NULL,
    "windowStart" REAL NOT NULL,
    "count" INTEGER NOT NULL,

    PRIMARY KEY ("key", "windowStart")
);

-- CreateTable
CREATE TABLE "Setting" (
    "key" TEXT NOT NULL PRIMARY KEY,
    "value" TEXT NOT NULL
);

-- CreateIndex
CREATE INDEX "Resource_sandboxId_type_lastUpdated_idx" ON "Resource"("sandboxId", "type", "lastUpdated");

-- CreateIndex
CREATE INDEX "ResourceVersion_sandboxId_lastUpdated_idx" ON "ResourceVersion"("sandboxId", "lastUpdated");

-- CreateIndex
CREATE INDEX "CompartmentMember_sandboxId_type_resourceId_idx" ON "CompartmentMember"("sandboxId", "type", "resourceId");

-- CreateIndex
CREATE INDEX "SearchToken_sandboxId_type_param_code_idx" ON "SearchToken"("sandboxId", "type", "param", "code");

-- CreateIndex
CREATE INDEX "SearchToken_sandboxId_type_resourceId_idx" ON "SearchToken"("sandboxId", "type", "resourceId");

-- CreateIndex
CREATE INDEX "SearchString_sandboxId_type_param_value_idx" ON "SearchString"("sandboxId", "type", "param", "value");

-- CreateIndex
CREATE INDEX "SearchString_sandboxId_type_resourceId_idx" ON "SearchString"("sandboxId", "type", "resourceId");

-- CreateIndex
CREATE INDEX "SearchDate_sandboxId_type_param_start_idx" ON "SearchDate"("sandboxId", "type", "param", "start");

-- CreateIndex
CREATE INDEX "SearchDate_sandboxId_type_resourceId_idx" ON "SearchDate"("sandboxId", "type", "resourceId");

-- CreateIndex
CREATE INDEX "SearchReference_sandboxId_type_param_targetId_idx" ON "SearchReference"("sandboxId", "type", "param", "targetId");

-- CreateIndex
CREATE INDEX "SearchReference_sandboxId_targetType_targetId_idx" ON "SearchReference"("sandboxId", "targetType", "targetId");

-- CreateIndex
CREATE INDEX "SearchReference_sandboxId_type_resourceId_idx" ON "SearchReference"("sandboxId", "type", "resourceId");

-- CreateIndex
CREATE INDEX "SearchQuantity_sandboxId_type_param_value_idx" ON "SearchQuantity"("sandboxId", "type", "param", "value");

-- CreateIndex
CREATE INDEX "SearchQuantity_sandboxId_type_resourceId_idx" ON "SearchQuantity"("sandboxId", "type", "resourceId");

-- CreateIndex
CREATE INDEX "Client_sandboxId_idx" ON "Client"("sandboxId");

-- CreateIndex
CREATE INDEX "Launch_sandboxId_idx" ON "Launch"("sandboxId");

-- CreateIndex
CREATE INDEX "Grant_sandboxId_clientId_idx" ON "Grant"("sandboxId", "clientId");

-- CreateIndex
CREATE UNIQUE INDEX "Token_tokenHash_key" ON "Token"("tokenHash");

-- CreateIndex
CREATE INDEX "Token_sandboxId_clientId_idx" ON "Token"("sandboxId", "clientId");

-- CreateIndex
CREATE INDEX "Token_grantId_idx" ON "Token"("grantId");

-- CreateIndex
CREATE INDEX "AuditRecord_sandboxId_at_idx" ON "AuditRecord"("sandboxId", "at");

-- CreateIndex
CREATE INDEX "AuditRecord_sandboxId_clientId_at_idx" ON "AuditRecord"("sandboxId", "clientId", "at");
