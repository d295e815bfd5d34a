// The example's data: a fixed set of users (what an identity provider would tell the app) and expense reports,
// kept in memory. createDb() makes a fresh copy, so each test starts from the same state.
const users = {
  alice: { id: "alice", roles: ["user"], attributes: { region: "emea" } },
  bob: { id: "bob", roles: ["user"], attributes: { region: "emea" } },
  sally: { id: "sally", roles: ["manager"], attributes: { region: "emea" } },
  mark: { id: "mark", roles: ["manager"], attributes: { region: "apac" } },
  ada: { id: "ada", roles: ["admin"], attributes: { region: "global" } },
};

const expenses = [
  { id: "e1", ownerId: "alice", region: "emea", status: "draft", amount: 120, description: "Train to Lyon" },
  { id: "e2", ownerId: "bob", region: "emea", status: "submitted", amount: 900, description: "Conference ticket" },
  { id: "e3", ownerId: "bob", region: "emea", status: "submitted", amount: 25000, description: "Booth" },
  { id: "e4", ownerId: "mark", region: "apac", status: "submitted", amount: 50, description: "Taxi" },
  { id: "e5", ownerId: "sally", region: "emea", status: "submitted", amount: 75, description: "Team lunch" },
];

function createDb() {
  const rows = new Map(expenses.map((e) => [e.id, { ...e }]));
  return {
    user: (id) => users[id],
    expense: (id) => rows.get(id),
    expenses: () => [...rows.values()],
    remove: (id) => rows.delete(id),
  };
}

module.exports = { createDb };
