// An Express app that counts its visits in MariaDB. The database comes from
// the `database` relationship, read with the platformsh-config library.
"use strict";

const express = require("express");
const mysql = require("mysql2/promise");
const platformsh = require("platformsh-config");

const config = platformsh.config();

// One pool per process, made on first use so /health answers even when the
// database cannot be reached.
let pool = null;
let tableReady = null;

function database() {
  if (pool === null) {
    if (!config.inRuntime()) {
      throw new Error(
        "no database: PLATFORM_APPLICATION_NAME and PLATFORM_ENVIRONMENT are not set " +
          "(run this app on shipway or Platform.sh)",
      );
    }
    // The relationship's first endpoint: host, port, username, password and
    // path (the database name), as Platform.sh describes a MariaDB service.
    const credentials = config.credentials("database");
    pool = mysql.createPool({
      host: credentials.host,
      port: credentials.port,
      user: credentials.username,
      password: credentials.password,
      database: credentials.path,
      connectionLimit: 5,
    });
  }
  return pool;
}

async function visitsTable() {
  if (tableReady === null) {
    tableReady = database()
      .query(
        `CREATE TABLE IF NOT EXISTS visits (
           id INT AUTO_INCREMENT PRIMARY KEY,
           at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
           user_agent VARCHAR(200) NOT NULL DEFAULT ''
         )`,
      )
      .catch((err) => {
        tableReady = null; // try again on the next request
        throw err;
      });
  }
  await tableReady;
  return database();
}

async function summary(db) {
  const [[row]] = await db.query("SELECT COUNT(*) AS visits, VERSION() AS version FROM visits");
  const credentials = config.credentials("database");
  return {
    visits: Number(row.visits),
    database: { name: credentials.path, host: credentials.host, version: row.version },
  };
}

const app = express();

// Records this visit, then shows how many there have been.
app.get("/", async (req, res) => {
  const db = await visitsTable();
  await db.query("INSERT INTO visits (user_agent) VALUES (?)", [
    (req.get("User-Agent") || "").slice(0, 200),
  ]);
  const { visits, database: about } = await summary(db);
  res
    .type("text/plain")
    .send(
      `express-mariadb example\nvisits: ${visits}\n` +
        `database: ${about.name} on ${about.host} (MariaDB ${about.version})\n` +
        `branch: ${process.env.PLATFORM_BRANCH || "unknown"}\n`,
    );
});

// The count without adding to it, for scripts and tests.
app.get("/visits", async (req, res) => {
  res.json(await summary(await visitsTable()));
});

app.get("/health", (req, res) => {
  res.type("text/plain").send("ok\n");
});

// Express 5 passes a rejected promise from a handler here.
app.use((err, req, res, next) => {
  console.error(err);
  res.status(503).type("text/plain").send(`database error: ${err.message}\n`);
});

// The platform's router reaches the app on the loopback address.
const port = Number(process.env.PORT || 8080);
app.listen(port, "127.0.0.1", () => {
  console.log(`express-mariadb example listening on 127.0.0.1:${port}`);
});
