// The Express application: every route asks the Cerbos PDP before it touches an expense report.
const express = require("express");

// Cerbos's resource for one expense report: the attributes its policy's conditions read.
function expenseResource(expense) {
  return {
    kind: "expense",
    id: expense.id,
    attributes: {
      ownerId: expense.ownerId,
      region: expense.region,
      status: expense.status,
      amount: expense.amount,
    },
  };
}

function createApp(cerbos, db) {
  const app = express();
  app.use(express.json());

  // Stands in for real authentication: the caller names itself in the x-user header.
  app.use((req, res, next) => {
    const user = db.user(req.get("x-user") ?? "");
    if (!user) {
      res.status(401).json({ error: "unknown user: send x-user" });
      return;
    }
    req.user = user;
    next();
  });

  // Loads the expense report named in the path, or answers 404.
  function withExpense(handler) {
    return async (req, res, next) => {
      const expense = db.expense(req.params.id);
      if (!expense) {
        res.status(404).json({ error: `no expense report ${req.params.id}` });
        return;
      }
      try {
        await handler(req, res, expense);
      } catch (error) {
        next(error);
      }
    };
  }

  app.get("/expenses", async (req, res, next) => {
    try {
      const all = db.expenses();
      const decision = await cerbos.checkResources({
        principal: req.user,
        resources: all.map((expense) => ({ resource: expenseResource(expense), actions: ["view"] })),
      });
      const visible = all.filter((expense) =>
        decision.isAllowed({ resource: { kind: "expense", id: expense.id }, action: "view" }),
      );
      res.json(visible);
    } catch (error) {
      next(error);
    }
  });

  app.get(
    "/expenses/:id",
    withExpense(async (req, res, expense) => {
      const decision = await cerbos.checkResource({
        principal: req.user,
        resource: expenseResource(expense),
        actions: ["view", "update", "approve", "delete"],
      });
      if (!decision.isAllowed("view")) {
        res.status(403).json({ error: "not allowed to view this expense report" });
        return;
      }
      res.json({ expense, allowedActions: decision.allowedActions().sort() });
    }),
  );

  app.patch(
    "/expenses/:id",
    withExpense(async (req, res, expense) => {
      const allowed = await cerbos.isAllowed({ principal: req.user, resource: expenseResource(expense), action: "update" });
      if (!allowed) {
        res.status(403).json({ error: "not allowed to update this expense report" });
        return;
      }
      if (typeof req.body?.description === "string") expense.description = req.body.description;
      if (typeof req.body?.amount === "number") expense.amount = req.body.amount;
      res.json(expense);
    }),
  );

  app.post(
    "/expenses/:id/approve",
    withExpense(async (req, res, expense) => {
      const allowed = await cerbos.isAllowed({ principal: req.user, resource: expenseResource(expense), action: "approve" });
      if (!allowed) {
        res.status(403).json({ error: "not allowed to approve this expense report" });
        return;
      }
      expense.status = "approved";
      res.json(expense);
    }),
  );

  app.delete(
    "/expenses/:id",
    withExpense(async (req, res, expense) => {
      const allowed = await cerbos.isAllowed({ principal: req.user, resource: expenseResource(expense), action: "delete" });
      if (!allowed) {
        res.status(403).json({ error: "not allowed to delete this expense report" });
        return;
      }
      db.remove(expense.id);
      res.status(204).end();
    }),
  );

  // A PDP that cannot be reached or refuses the request is the server's problem, not the caller's.
  app.use((error, req, res, _next) => {
    console.error(`${req.method} ${req.path}: ${error.message}`);
    res.status(502).json({ error: "authorization service unavailable" });
  });

  return app;
}

module.exports = { createApp };
